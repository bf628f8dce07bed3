"""Building DAGs and events straight with the ORM, so the live stream is tested without the engine."""

import threading

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction
from django.test import Client

from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.factories import START_BUILD, make_cluster, make_user
from upgrades.events import emit
from upgrades.models import Dag, Node, SubTask, TaskLog
from upgrades.snapshots import dag_payload, log_payload, node_payload

ORIGIN = (b"origin", b"http://localhost")
# The origin check compares the Origin with the request's own scheme, host and port (upgrades/live/origins.py).
HOST = (b"host", b"localhost")


def make_dag(*, nodes=3, cluster=None):
    cluster = cluster or make_cluster()
    servers = list(cluster.servers.all())
    with transaction.atomic():
        dag = Dag.objects.create(
            cluster=cluster,
            name=f"OB rolling upgrade {TARGET.label}",
            max_stage=nodes,
            version=TARGET.version,
            release=TARGET.build_number,
            mode="ROLLING",
            from_version=START_BUILD.label,
            to_version=TARGET.label,
            actor_label="user op",
            reason="quarterly patch",
        )
        for seq in range(1, nodes + 1):
            node = Node.objects.create(
                dag=dag,
                seq=seq,
                name=f"Stage {seq}",
                action="check_python",
                parallel=True,
                can_retry=True,
                can_rollback=seq < 3,
                can_pass=False,
                can_cancel=seq < 3,
            )
            for server in servers:
                SubTask.objects.create(
                    node=node, dag=dag, name=node.name, server=server, agent_ip=server.ip, agent_port=server.agent_port
                )
        emit(dag.pk, "dag.created", {"dag": dag_payload(dag)})
    return dag


def set_dag_state(dag_id, state):
    with transaction.atomic():
        dag = Dag.objects.select_related("cluster").get(pk=dag_id)
        dag.state = state
        dag.save(update_fields=["state"])
        return emit(dag_id, "dag.updated", {"dag": dag_payload(dag)})


def set_node_state(node_id, state):
    with transaction.atomic():
        node = Node.objects.get(pk=node_id)
        node.state = state
        node.save(update_fields=["state"])
        return emit(node.dag_id, "node.updated", {"node": node_payload(node)})


def append_log(sub_task_id, text, *, execute_times=1, phase="run", level="INFO"):
    with transaction.atomic():
        sub_task = SubTask.objects.get(pk=sub_task_id)
        log = TaskLog.objects.create(
            sub_task=sub_task, execute_times=execute_times, phase=phase, level=level, text=text
        )
        return emit(sub_task.dag_id, "log.appended", {"log": log_payload(log)})


def emit_in_thread(fn, *args):
    """Runs fn in a plain thread (like an embedded worker), not one managed by asgiref."""
    errors = []

    def target():
        try:
            fn(*args)
        except Exception as exc:  # surfaced to the test below
            errors.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    return thread, errors


def session_cookie(user):
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def logged_in_headers(role="viewer"):
    user = await database_sync_to_async(make_user)(role)
    cookie = await sync_to_async(session_cookie)(user)
    return [ORIGIN, HOST, (b"cookie", cookie)]


def dag_communicator(dag_id, headers, *, query=""):
    from dashboard.asgi import application

    suffix = f"?{query}" if query else ""
    return WebsocketCommunicator(application, f"/ws/dags/{dag_id}/{suffix}", headers=headers)


def feed_communicator(headers):
    from dashboard.asgi import application

    return WebsocketCommunicator(application, "/ws/feed/", headers=headers)
