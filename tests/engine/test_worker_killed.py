"""A `run_worker` process killed with SIGKILL mid-step: once its lease expires, another worker applies
obshell's continue rule. A continuable step is re-entered (same execute_times) and the DAG completes; a
step that cannot continue fails with `task unexpectedly interrupted and cannot continue`."""

import signal

import pytest

from tests.engine.helpers import assert_gapless_events, spawn_run_worker
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from tests.support.waiting import wait_until
from upgrades.audit import Actor
from upgrades.backends.faults import fault_inject
from upgrades.engine.runner import run_dag_to_end
from upgrades.models import SubTask
from upgrades.models.dag import State
from upgrades.services.dag_operators import dag_operate


def hang_in_child(cluster, node_name):
    """Start an upgrade, let a child worker run it until it hangs at node_name, then SIGKILL the child."""
    fault_inject(cluster=cluster, node_name=node_name, kind="hang")
    dag = start_upgrade(cluster, TARGET)
    child = spawn_run_worker(lease_seconds=1)
    try:
        hanging = wait_until(
            lambda: (
                SubTask.objects.filter(dag=dag, name=node_name, state=State.RUNNING).exclude(lease_owner="").first()
            ),
            timeout=60,
            what=f"the child worker to run {node_name!r}",
        )
        wait_until(lambda: hanging.logs.filter(level="WARN").exists(), what="the hang")
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    hanging.refresh_from_db()
    assert hanging.state == State.RUNNING and hanging.lease_owner, "the killed worker left its lease behind"
    return dag, hanging


@pytest.mark.django_db(transaction=True)
def test_a_continuable_step_is_reentered_and_completed_by_another_worker():
    cluster = make_cluster()
    stock_packages(TARGET)
    dag, hanging = hang_in_child(cluster, "Stop zone2")
    killed_owner = hanging.lease_owner

    dag = run_dag_to_end(dag.pk, timeout=60)

    assert dag.state == State.SUCCEED
    hanging.refresh_from_db()
    assert (hanging.state, hanging.execute_times) == (State.SUCCEED, 1)
    lines = [log.line for log in hanging.logs.order_by("id")]
    assert f"WARN: executor {killed_owner} stopped while running; continuing" in lines
    assert "task is continued after its executor restarted" in lines
    assert lines[-1] == "zone zone2 is INACTIVE"
    assert_gapless_events(dag)


@pytest.mark.django_db(transaction=True)
def test_a_step_that_cannot_continue_fails_and_can_be_retried():
    cluster = make_cluster()
    stock_packages(TARGET)
    dag, hanging = hang_in_child(cluster, "Execute upgrade pre script")

    dag = run_dag_to_end(dag.pk, timeout=60)

    assert dag.state == State.FAILED and dag.nodes.get(seq=dag.stage).name == "Execute upgrade pre script"
    hanging.refresh_from_db()
    assert hanging.state == State.FAILED
    assert hanging.logs.order_by("id").last().line == "task unexpectedly interrupted and cannot continue"
    dag_operate(dag=dag, operator="retry", actor=Actor.system("test"), reason="worker replaced")
    assert run_dag_to_end(dag.pk, timeout=60).state == State.SUCCEED
    assert_gapless_events(dag)


@pytest.mark.django_db(transaction=True)
def test_an_injected_crash_kills_the_worker_process():
    cluster = make_cluster()
    stock_packages(TARGET)
    fault_inject(cluster=cluster, node_name="Start zone1", kind="crash")
    dag = start_upgrade(cluster, TARGET)
    child = spawn_run_worker(lease_seconds=1)
    try:
        assert child.wait(timeout=60) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    crashed = SubTask.objects.get(dag=dag, name="Start zone1")
    assert crashed.state == State.RUNNING
    dag = run_dag_to_end(dag.pk, timeout=60)
    assert dag.state == State.SUCCEED
    crashed.refresh_from_db()
    assert crashed.execute_times == 1
    assert_gapless_events(dag)
