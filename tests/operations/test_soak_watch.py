"""The soak's watchers take a DAG's stream as the run page does: a replay from seq 0, gap fills on heartbeats, and
after the server went away a reconnect that resumes from the last seq. What they received compares equal with
the database, event for event; the facts the checks read come from the database as it is."""

from datetime import timedelta

import pytest

from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from tests.support.waiting import wait_until
from upgrades.engine.runner import run_dag_to_end
from upgrades.management.soak import checks, facts, fleet
from upgrades.management.soak.watch import WatchHub
from upgrades.models import ExecutionRecord, SubTask


@pytest.mark.django_db(transaction=True)
def test_a_watcher_resumes_across_a_server_restart_and_receives_every_event(live_server_factory):
    cluster = make_cluster()
    stock_packages(TARGET)
    dag = start_upgrade(cluster, TARGET)
    server = live_server_factory(settings={"LIVE_HEARTBEAT_SECONDS": 0.5})
    hub = WatchHub(ws_base=server.ws_url, session_cookie=fleet.watcher_session(), origin=server.url, heartbeat=0.5)
    hub.start()
    try:
        watcher = hub.watch(dag.pk)
        wait_until(lambda: watcher.seq >= 1, what="the replay of the DAG's first event")
        server.stop()
        # Everything else happens while the watcher's server is down.
        dag = run_dag_to_end(dag.pk)
        server.start()
        hub.finish(dag.pk, dag.last_seq)
        assert hub.wait_caught_up(60) == []
    finally:
        hub.stop()
    assert watcher.stats.connects >= 2 and watcher.stats.drops >= 1
    assert watcher.stats.replayed_events == dag.last_seq
    assert checks.stream_problems(dag.pk, dag.last_seq, facts.event_digests(dag.pk), watcher.received) == []
    # The same stream with an event taken out fails the check (the comparison is with the database).
    watcher.received.events.pop(len(watcher.received.events) // 2)
    assert [
        v.kind for v in checks.stream_problems(dag.pk, dag.last_seq, facts.event_digests(dag.pk), watcher.received)
    ] == [
        "gap",
        "missed",
    ]


@pytest.mark.django_db(transaction=True)
def test_the_checks_find_an_overlap_and_an_illegal_continue_written_to_the_database():
    cluster = make_cluster()
    stock_packages(TARGET)
    dag = run_dag_to_end(start_upgrade(cluster, TARGET).pk)
    ids = [dag.pk]
    assert checks.execution_overlaps(facts.executions(ids), []) == []
    assert checks.illegal_continues(facts.executions(ids), facts.can_continue(ids)) == []

    # A second execution of "Execute upgrade pre script" (cannot continue) inside the first one's span.
    pre = SubTask.objects.get(dag=dag, name="Execute upgrade pre script")
    first = pre.executions.get()
    ExecutionRecord.objects.create(
        sub_task=pre,
        attempt=first.attempt,
        host=first.host,
        pid=first.pid + 1,
        started_at=first.started_at + (first.ended_at - first.started_at) / 2,
        ended_at=first.ended_at + timedelta(seconds=1),
        outcome="ok",
    )
    executions = facts.executions(ids)
    assert [v.kind for v in checks.execution_overlaps(executions, [])] == ["overlap"]
    assert [v.kind for v in checks.illegal_continues(executions, facts.can_continue(ids))] == ["illegal-continue"]


@pytest.mark.django_db(transaction=True)
def test_a_failure_read_from_the_database_is_judged_by_the_interrupt_rule():
    from upgrades.backends.faults import fault_inject

    cluster = make_cluster()
    stock_packages(TARGET)
    fault_inject(cluster=cluster, node_name="Execute upgrade pre script", kind="fail")
    dag = run_dag_to_end(start_upgrade(cluster, TARGET).pk)
    failed = facts.failed_sub_tasks(dag.pk)
    assert [(f.name, f.can_continue) for f in failed] == [("Execute upgrade pre script", False)]
    # An injected step failure is not the interrupt rule: the soak injects none, so it would be a violation.
    violations = checks.unexplained_failure(failed, facts.executions([dag.pk]), [])
    assert [v.kind for v in violations] == ["unexplained-failure"]
    assert "execute script" in violations[0].detail
