"""SIGTERM to `run_worker` is like an agent restart: running sub-tasks are handed back at once under the
continue rule (re-entered later, or failed when they cannot continue), and the process exits cleanly."""

import signal

import pytest

from tests.engine.helpers import assert_gapless_events, spawn_run_worker
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from tests.support.waiting import wait_until
from upgrades.backends.faults import fault_inject
from upgrades.engine.runner import run_dag_to_end
from upgrades.models import SubTask
from upgrades.models.dag import State


def stop_child_during(cluster, node_name):
    fault_inject(cluster=cluster, node_name=node_name, kind="hang")
    dag = start_upgrade(cluster, TARGET)
    # A long lease: the hand-back must not depend on the lease expiring.
    child = spawn_run_worker(lease_seconds=600)
    try:
        hanging = wait_until(
            lambda: SubTask.objects.filter(dag=dag, name=node_name, state=State.RUNNING).first(),
            timeout=60,
            what=f"the child worker to run {node_name!r}",
        )
        wait_until(lambda: hanging.logs.filter(level="WARN").exists(), what="the hang")
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=30) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    hanging.refresh_from_db()
    return dag, hanging


@pytest.mark.django_db(transaction=True)
def test_sigterm_hands_a_continuable_step_back():
    cluster = make_cluster()
    stock_packages(TARGET)
    dag, hanging = stop_child_during(cluster, "Reinstall and restart observer")
    assert (hanging.state, hanging.lease_owner, hanging.execute_times) == (State.READY, "", 1)
    assert hanging.context.get("continue") is True
    dag = run_dag_to_end(dag.pk, timeout=60)
    assert dag.state == State.SUCCEED
    assert_gapless_events(dag)


@pytest.mark.django_db(transaction=True)
def test_sigterm_fails_a_step_that_cannot_continue():
    cluster = make_cluster()
    stock_packages(TARGET)
    dag, hanging = stop_child_during(cluster, "Execute upgrade pre script")
    assert hanging.state == State.FAILED
    assert hanging.logs.order_by("id").last().line == "task unexpectedly interrupted and cannot continue"
    dag = run_dag_to_end(dag.pk, timeout=60)
    assert dag.state == State.FAILED
    assert_gapless_events(dag)
