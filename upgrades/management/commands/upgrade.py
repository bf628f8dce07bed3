import getpass
import threading
from datetime import datetime

from django.core.management.base import CommandError
from django.db import connections

from upgrades.audit import Actor
from upgrades.engine.mirror import mirror_poll
from upgrades.engine.worker import Worker
from upgrades.errors import ObshellError
from upgrades.management.base import VersionOptionCommand
from upgrades.models import Cluster, DagEvent, SubTask
from upgrades.models.cluster import Backend
from upgrades.models.dag import State
from upgrades.services.dag_start import upgrade_start
from upgrades.services.real_upgrades import route_packages_push

FOLLOW_POLL = 0.2


def command_actor():
    """The audit label of a management command run by the OS user: "command <user>"."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"command {user}"


class Command(VersionOptionCommand):
    help = (
        "Plan and start an upgrade (the same path as POST /api/v1/ob/upgrade) and print its dag_id. With --wait, "
        "follow it stage by stage; --wait also runs an in-process worker for this DAG, so it completes even when no "
        "run_worker is running (any other workers share the work safely). On a real cluster it first pushes the "
        "packages the route needs to the agent, and --wait follows the agent's DAG. Exits 0 only if the DAG SUCCEEDs."
    )

    def add_arguments(self, parser):
        parser.add_argument("cluster")
        parser.add_argument("--version", required=True, help="target version, e.g. 4.3.0.1")
        parser.add_argument("--release", required=True, help="target release, e.g. 101000062023110109.el7")
        parser.add_argument("--mode", required=True, help="ROLLING or STOPSERVICE")
        parser.add_argument("--upgrade-dir", default="")
        parser.add_argument("--freeze-server", action="store_true")
        parser.add_argument("--reason", default="")
        parser.add_argument("--wait", action="store_true", help="follow the DAG until it finishes")

    def handle(self, *args, **opts):
        cluster = Cluster.objects.filter(name=opts["cluster"]).first()
        if cluster is None:
            raise CommandError(f"no cluster named {opts['cluster']!r}")
        target = {key: opts[key] for key in ("version", "release", "mode", "upgrade_dir", "freeze_server")}
        try:
            if cluster.backend == Backend.OBSHELL:
                pushed = route_packages_push(
                    cluster=cluster, progress=lambda line: (self.stdout.write(line), self.stdout.flush()), **target
                )
                self.stdout.write(f"packages on the agent: {pushed} pushed, the rest already there")
            dag = upgrade_start(cluster=cluster, actor=Actor.system(command_actor()), reason=opts["reason"], **target)
        except ObshellError as exc:
            raise CommandError(f"[{exc.err_code}] {exc.message}") from None
        self.stdout.write(f"{dag.pk}")
        self.stdout.write(f"DAG {dag.pk} (obshell generic id {dag.generic_id}) {dag.name}: {dag.max_stage} stages")
        self.stdout.flush()
        if opts["wait"]:
            self._follow(dag)

    def _follow(self, dag):
        stop = threading.Event()
        worker = Worker(name="upgrade-wait", dag_ids=[dag.pk], stop_event=stop)

        def run():
            try:
                if dag.remote_dag_id:
                    # A real cluster's agent runs it: follow its mirror (safe beside a worker's mirror loop).
                    while not stop.is_set():
                        stop.wait(mirror_poll(dag.pk))
                else:
                    worker.run_forever()
            finally:
                connections.close_all()

        thread = threading.Thread(target=run, name=worker.owner, daemon=True)
        thread.start()
        last_seq = 0
        try:
            while True:
                events = list(DagEvent.objects.filter(dag=dag, seq__gt=last_seq).order_by("seq"))
                for event in events:
                    last_seq = event.seq
                    if event.kind == DagEvent.Kind.NODE_UPDATED:
                        self._print_node(dag, event.payload["node"])
                    elif event.kind == DagEvent.Kind.NODE_STALLED:
                        self._print_stall(dag, event.payload)
                dag.refresh_from_db()
                if dag.state in (State.SUCCEED, State.FAILED) and dag.last_seq <= last_seq:
                    break
                if not thread.is_alive():
                    raise CommandError(f"DAG {dag.pk}: stopped following it (see the log above); it is {dag.state}")
                stop.wait(FOLLOW_POLL)
        finally:
            stop.set()
            thread.join()
        if dag.state == State.SUCCEED:
            self.stdout.write(f"DAG {dag.pk} SUCCEED ({dag.operator}) in {_seconds(dag.start_time, dag.end_time):.1f}s")
            return
        raise CommandError(self._failure(dag))

    def _print_node(self, dag, node):
        if node["state"] not in (State.SUCCEED, State.FAILED):
            return
        took = _seconds(datetime.fromisoformat(node["start_time"]), datetime.fromisoformat(node["end_time"]))
        self.stdout.write(f"[{node['seq']:>2}/{dag.max_stage}] {node['name']:<45} {node['state']:<8} {took:6.1f}s")
        self.stdout.flush()

    def _print_stall(self, dag, stall):
        self.stdout.write(
            f"[{stall['node_seq']:>2}/{dag.max_stage}] {stall['node_name']:<45} STALLED: running "
            f"{stall['running_seconds']:.0f}s, usually {stall['usual_median_seconds']:.0f}s"
        )
        self.stdout.flush()

    @staticmethod
    def _failure(dag):
        node = dag.nodes.filter(state=State.FAILED).order_by("seq").first()
        if node is None:
            return f"DAG {dag.pk} {dag.state}"
        lines = [f"DAG {dag.pk} FAILED ({dag.operator}) at stage {node.seq}: {node.name}"]
        for sub_task in SubTask.objects.filter(node=node, state=State.FAILED).order_by("id"):
            last = sub_task.logs.order_by("-id").first()
            lines.append(f"  {sub_task.agent_ip}:{sub_task.agent_port} {last.line if last else ''}")
        return "\n".join(lines)


def _seconds(start, end):
    return max((end - start).total_seconds(), 0.0)
