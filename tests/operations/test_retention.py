"""Retention: `manage.py prune --finished-before DAYS` moves a long-finished run's events and task logs into a
compressed archive; the run page, the live snapshot and replay, and obshell's task routes show the same
content before and after; audit entries are never pruned; a second prune does nothing."""

import io
import json
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.api.helpers import Api
from tests.live.helpers import dag_communicator, logged_in_headers
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster, make_user
from tests.support.packages import stock_packages
from upgrades.audit import Actor
from upgrades.backends.faults import fault_inject
from upgrades.engine import periodic
from upgrades.engine.runner import run_dag_to_end
from upgrades.live.selectors import dag_snapshot, event_frames, log_page
from upgrades.models import AuditEntry, Dag, DagEvent, Node, RunArchive, SubTask, TaskLog
from upgrades.models.dag import State
from upgrades.security.tokens import token_create
from upgrades.services import retention
from upgrades.services.dag_operators import dag_operate


def age(dag, days):
    Dag.objects.filter(pk=dag.pk).update(end_time=timezone.now() - timedelta(days=days))


def succeeded_after_a_retry(cluster):
    """A run with a failed attempt, its ERROR line, a retry and a second attempt: every kind of line."""
    stock_packages(TARGET)
    dag = start_upgrade(cluster, TARGET, reason="quarterly patch")
    fault_inject(cluster=cluster, node_name=Node.objects.get(dag=dag, seq=2).name, times=1)
    assert run_dag_to_end(dag.pk).state == State.FAILED
    dag_operate(dag=Dag.objects.get(pk=dag.pk), operator="RETRY", actor=Actor.system("test"), reason="try again")
    dag = run_dag_to_end(dag.pk)
    assert dag.state == State.SUCCEED and dag.is_finished
    return dag


def run_page_snapshot(client, dag):
    html = client.get(f"/runs/{dag.pk}/").content.decode()
    return json.loads(re.search(r'<script id="run-snapshot" type="application/json">(.*?)</script>', html, re.S)[1])


def downloads(client, dag):
    return {
        sub_task.pk: client.get(reverse("run_sub_task_log", args=[dag.pk, sub_task.pk])).content.decode()
        for sub_task in SubTask.objects.filter(dag=dag)
    }


def api_views(api, dag):
    def data(uri):
        response = api.get(uri)
        assert response.status_code == 200, response.content
        return response.json()["data"]

    sub_tasks = SubTask.objects.filter(dag=dag).order_by("id")
    nodes = Node.objects.filter(dag=dag).order_by("seq")
    return {
        "dag": data(f"/api/v1/task/dag/{dag.generic_id}?show_details=true"),
        "all": data("/api/v1/task/dags/ob?show_details=true"),
        "maintained": data("/api/v1/task/dag/maintain/ob?show_details=true"),
        "nodes": [data(f"/api/v1/task/node/{node.generic_id}") for node in nodes],
        "sub_tasks": [data(f"/api/v1/task/sub_task/{sub.generic_id}") for sub in sub_tasks],
        "logs": [data(f"/api/v1/task/sub_task/{sub.generic_id}/logs") for sub in sub_tasks],
    }


def live_views(dag):
    sub_tasks = SubTask.objects.filter(dag=dag).order_by("id")
    return {
        "snapshot": dag_snapshot(dag.pk),
        "replay": [json.loads(text) for _, text in event_frames(dag.pk, 0)],
        "replay_tail": [json.loads(text) for _, text in event_frames(dag.pk, 10, up_to=20)],
        "log_pages": [log_page(dag_id=dag.pk, sub_task_id=sub.pk) for sub in sub_tasks],
        "log_pages_small": [log_page(dag_id=dag.pk, sub_task_id=sub.pk, limit=2) for sub in sub_tasks],
    }


@pytest.mark.django_db
def test_a_pruned_run_shows_the_same_everywhere(client):
    cluster = make_cluster()
    dag = succeeded_after_a_retry(cluster)
    age(dag, 40)
    _, secret = token_create(cluster=cluster, label="retention")
    api = Api(client, secret)
    viewer = Client()
    viewer.force_login(make_user("viewer"))
    before = (run_page_snapshot(viewer, dag), downloads(viewer, dag), api_views(api, dag), live_views(dag))
    events, lines = DagEvent.objects.filter(dag=dag).count(), TaskLog.objects.filter(sub_task__dag=dag).count()
    assert events > 50 and lines > 30
    assert any("ERROR" in text for text in before[1].values())
    audit_before = list(AuditEntry.objects.order_by("id").values_list("id", "action"))

    out = io.StringIO()
    call_command("prune", "--finished-before", "30", stdout=out)
    assert "pruned 1 run finished before" in out.getvalue()
    assert f"{events} events and {lines} log lines archived" in out.getvalue()

    assert not DagEvent.objects.filter(dag=dag).exists() and not TaskLog.objects.filter(sub_task__dag=dag).exists()
    archive = RunArchive.objects.get(dag=dag)
    assert (archive.event_count, archive.log_count, archive.last_seq) == (events, lines, dag.last_seq)
    assert len(archive.events) + len(archive.logs) < archive.raw_bytes / 3
    after = (run_page_snapshot(viewer, dag), downloads(viewer, dag), api_views(api, dag), live_views(dag))
    assert after[0] == before[0]
    assert after[1] == before[1]
    assert after[2] == before[2]
    assert after[3] == before[3]

    # Audited as the system, and nothing of the audit trail went.
    entries = list(AuditEntry.objects.order_by("id").values_list("id", "action"))
    assert entries[: len(audit_before)] == audit_before
    [pruned] = AuditEntry.objects.filter(action=AuditEntry.Action.RUN_PRUNE)
    assert pruned.actor_label.startswith("command ") and pruned.actor_user_id is None and pruned.actor_token_id is None
    assert (pruned.dag_id, pruned.detail["events"], pruned.detail["log_lines"]) == (dag.pk, events, lines)

    # Idempotent.
    out = io.StringIO()
    call_command("prune", "--finished-before", "30", stdout=out)
    assert "pruned 0 runs" in out.getvalue()
    assert AuditEntry.objects.filter(action=AuditEntry.Action.RUN_PRUNE).count() == 1


@pytest.mark.django_db
def test_only_succeeded_runs_finished_before_the_cutoff_are_pruned():
    cluster = make_cluster()
    old = succeeded_after_a_retry(cluster)
    age(old, 10)
    recent = run_dag_to_end(start_upgrade(make_cluster(), TARGET).pk)
    age(recent, 2)
    failed_cluster = make_cluster()
    failed = start_upgrade(failed_cluster, TARGET)
    fault_inject(cluster=failed_cluster, node_name=Node.objects.get(dag=failed, seq=2).name, times=1)
    failed = run_dag_to_end(failed.pk)
    age(failed, 10)  # failed: an operator may still retry it, however old
    running = start_upgrade(make_cluster(), TARGET)

    out = io.StringIO()
    call_command("prune", "--finished-before", "5", "--dry-run", stdout=out)
    assert out.getvalue().strip() == "would prune 1 run"
    assert RunArchive.objects.count() == 0
    summary = retention.runs_prune(finished_before_days=5)
    assert summary.dag_ids == [old.pk]
    for kept in (recent, failed, running):
        assert DagEvent.objects.filter(dag=kept).exists() and not RunArchive.objects.filter(dag=kept).exists()


@pytest.mark.django_db
def test_the_periodic_job_follows_retention_days(settings):
    cluster = make_cluster()
    dag = succeeded_after_a_retry(cluster)
    age(dag, 3)
    settings.RETENTION_DAYS = None
    assert retention.prune_job() == 0
    settings.RETENTION_DAYS = 7
    assert retention.prune_job() == 0
    settings.RETENTION_DAYS = 1
    try:
        retention.register_retention_job()
        assert retention.JOB_NAME in {job.name for job in periodic.registered()}
        assert retention.prune_job() == 1
    finally:
        periodic.unregister(retention.JOB_NAME)
    assert RunArchive.objects.filter(dag=dag).exists()
    assert AuditEntry.objects.get(action=AuditEntry.Action.RUN_PRUNE).actor_label == "system"


@pytest.mark.django_db(transaction=True)
async def test_a_socket_replays_and_snapshots_a_pruned_run_as_before():
    from channels.db import database_sync_to_async

    def prepare():
        cluster = make_cluster()
        dag = succeeded_after_a_retry(cluster)
        age(dag, 40)
        return dag

    dag = await database_sync_to_async(prepare)()
    headers = await logged_in_headers()

    async def frames():
        seen = []
        for query in ("", "after_seq=0", "after_seq=5"):
            communicator = dag_communicator(dag.pk, headers, query=query)
            connected, _ = await communicator.connect()
            assert connected
            seen.append(await communicator.receive_json_from(timeout=10))
            await communicator.disconnect()
        return seen

    before = await frames()
    assert [frame["type"] for frame in before] == ["snapshot", "replay", "replay"]
    assert len(before[1]["events"]) == dag.last_seq
    await database_sync_to_async(retention.runs_prune)(finished_before_days=30)
    assert await database_sync_to_async(RunArchive.objects.filter(dag=dag).exists)()
    assert await frames() == before


@pytest.mark.django_db(transaction=True)
def test_two_prunes_at_once_archive_each_run_once():
    import threading

    from django.db import connections

    cluster = make_cluster()
    dag = succeeded_after_a_retry(cluster)
    age(dag, 40)
    events = DagEvent.objects.filter(dag=dag).count()
    results, errors = [], []
    start = threading.Barrier(2)

    def prune():
        try:
            start.wait()
            results.append(retention.runs_prune(finished_before_days=30).runs)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=prune) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and sorted(results) == [0, 1]
    assert RunArchive.objects.get(dag=dag).event_count == events
    assert AuditEntry.objects.filter(action=AuditEntry.Action.RUN_PRUNE).count() == 1
