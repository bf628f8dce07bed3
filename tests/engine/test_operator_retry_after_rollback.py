"""After a ROLLBACK that failed: RETRY runs the DAG forward as obshell does (operator RUN; stages already rolled
back are not re-applied), and "Continue rollback" finishes undoing it, audited as its own action."""

import pytest

from tests.engine.helpers import assert_gapless_events, failed_run
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from upgrades.audit import Actor
from upgrades.backends.faults import fault_inject
from upgrades.engine.runner import run_dag_to_end
from upgrades.errors import ObshellError
from upgrades.live.actions import allowed_actions
from upgrades.models import AuditEntry, TaskLog
from upgrades.models.dag import EPOCH, State
from upgrades.operator_rules import stages_retry_leaves_rolled_back
from upgrades.services.dag_operators import dag_continue_rollback, dag_operate

ACTOR = Actor.system("test")
UNPACK, DOWNLOAD = "Unpack all required packages", "Download all required packages"


def failed_rollback(cluster):
    """An upgrade that failed at Unpack (stage 5), then failed rolling back Download (stage 3)."""
    stock_packages(TARGET)
    dag = failed_run(cluster, TARGET, UNPACK)
    fault_inject(cluster=cluster, node_name=DOWNLOAD, kind="fail_rollback")
    dag_operate(dag=dag, operator="ROLLBACK", actor=ACTOR, reason="wrong target")
    dag = run_dag_to_end(dag.pk)
    assert (dag.state, dag.operator, dag.stage) == (State.FAILED, "ROLLBACK", 3)
    return dag


def states(dag):
    return {n.seq: (n.state, n.operator) for n in dag.nodes.filter(seq__lte=6)}


@pytest.mark.django_db
def test_a_failed_rollback_leaves_the_stages_it_undid_and_says_why():
    dag = failed_rollback(make_cluster())
    assert states(dag) == {
        1: (State.PENDING, "ROLLBACK"),
        2: (State.PENDING, "ROLLBACK"),
        3: (State.FAILED, "ROLLBACK"),
        4: (State.SUCCEED, "ROLLBACK"),
        5: (State.SUCCEED, "ROLLBACK"),
        6: (State.PENDING, "RUN"),
    }
    failed = dag.nodes.get(seq=3).sub_tasks.filter(state=State.FAILED).first()
    line = failed.logs.filter(phase=TaskLog.Phase.ROLLBACK).last().line
    assert line.startswith("ERROR: [Common.Unexpected]: rollback of Download all required packages failed: remove ")
    assert line.endswith(" failed: device or resource busy")
    assert [n.seq for n in stages_retry_leaves_rolled_back(dag, list(dag.nodes.all()))] == [4, 5]
    actions = allowed_actions(dag)
    assert actions["retry"] and actions["continue_rollback"] and not actions["rollback"]
    assert actions["retry_leaves_rolled_back"] == [4, 5]


@pytest.mark.django_db
def test_retry_after_a_failed_rollback_runs_forward_to_succeed_run():
    dag = failed_rollback(make_cluster())
    dag = dag_operate(dag=dag, operator="RETRY", actor=ACTOR, reason="disk freed")
    # obshell's txForRetryAndReadyDag: operator RUN whatever the DAG's was; the node's times reset.
    assert (dag.state, dag.operator, dag.stage, dag.start_time, dag.end_time) == (State.READY, "RUN", 3, EPOCH, EPOCH)
    node = dag.nodes.get(seq=3)
    assert (node.state, node.operator, node.start_time, node.end_time) == (State.PENDING, "RETRY", EPOCH, EPOCH)

    dag = run_dag_to_end(dag.pk)
    assert (dag.state, dag.operator, dag.stage, dag.holds_lock) == (State.SUCCEED, "RUN", dag.max_stage, False)
    # Stage 3 ran again; the stages already rolled back (4 and 5) were not re-applied; 1 and 2 were never touched.
    assert states(dag) == {
        1: (State.PENDING, "ROLLBACK"),
        2: (State.PENDING, "ROLLBACK"),
        3: (State.SUCCEED, "RETRY"),
        4: (State.SUCCEED, "ROLLBACK"),
        5: (State.SUCCEED, "ROLLBACK"),
        6: (State.SUCCEED, "RUN"),
    }
    unpack = dag.nodes.get(seq=5)
    assert not TaskLog.objects.filter(sub_task__node=unpack, phase=TaskLog.Phase.RUN, execute_times__gt=1).exists()
    download = dag.nodes.get(seq=3).sub_tasks.order_by("id")
    assert [st.execute_times for st in download] == [3, 3, 3]  # run, failed rollback, retry
    retried = download.first()
    phases = list(retried.logs.filter(execute_times=3).values_list("phase", flat=True))
    assert phases[0] == TaskLog.Phase.ROLLBACK and phases[-1] == TaskLog.Phase.RUN
    entry = AuditEntry.objects.filter(dag=dag, action="dag.operate").order_by("id").last()
    assert entry.detail == {"operator": "RETRY", "leaves_rolled_back": [4, 5]}
    assert_gapless_events(dag)


@pytest.mark.django_db
def test_continue_rollback_finishes_undoing_the_run():
    dag = failed_rollback(make_cluster())
    dag = dag_continue_rollback(dag=dag, actor=ACTOR, reason="disk freed, finish the rollback")
    assert (dag.state, dag.operator, dag.stage) == (State.READY, "ROLLBACK", 3)
    dag = run_dag_to_end(dag.pk)
    assert (dag.state, dag.operator, dag.stage, dag.holds_lock, dag.is_finished) == (
        State.SUCCEED,
        "ROLLBACK",
        1,
        False,
        True,
    )
    assert set(dag.nodes.filter(seq__lte=5).values_list("state", "operator")) == {(State.SUCCEED, "ROLLBACK")}
    entry = AuditEntry.objects.get(dag=dag, action="dag.continue_rollback")
    assert (entry.outcome, entry.reason, entry.detail) == (
        "ok",
        "disk freed, finish the rollback",
        {"operator": "ROLLBACK"},
    )
    assert_gapless_events(dag)


@pytest.mark.django_db
def test_continue_rollback_is_refused_unless_a_rollback_failed():
    cluster = make_cluster()
    stock_packages(TARGET)
    dag = failed_run(cluster, TARGET, UNPACK)
    assert not allowed_actions(dag)["continue_rollback"] and allowed_actions(dag)["rollback"]
    with pytest.raises(ObshellError) as caught:
        dag_continue_rollback(dag=dag, actor=ACTOR, reason="nothing to continue")
    assert (caught.value.err_code, caught.value.status, caught.value.message) == (
        "Task.Dag.Operator.ContinueRollbackNotRollingBack",
        400,
        "Failed to continue rollback: DAG did not fail while rolling back",
    )
    refused = AuditEntry.objects.get(dag=dag, action="dag.continue_rollback")
    assert refused.outcome == "refused"
    dag.refresh_from_db()
    assert (dag.state, dag.operator) == (State.FAILED, "RUN")


@pytest.mark.django_db
def test_retry_does_not_re_run_the_sub_tasks_of_that_node_whose_rollback_succeeded():
    # obshell's retryHandler: a sub-task SUCCEED before the node restarted (here: rolled back) is left as it is.
    cluster = make_cluster()
    stock_packages(TARGET)
    dag = failed_run(cluster, TARGET, UNPACK)
    victim = cluster.servers.order_by("id").first()
    fault_inject(cluster=cluster, node_name=DOWNLOAD, kind="fail_rollback", server=victim)
    dag_operate(dag=dag, operator="ROLLBACK", actor=ACTOR, reason="wrong target")
    dag = run_dag_to_end(dag.pk)
    assert (dag.state, dag.operator, dag.stage) == (State.FAILED, "ROLLBACK", 3)
    download = dag.nodes.get(seq=3)
    failed = download.sub_tasks.get(state=State.FAILED)
    assert failed.server_id == victim.pk
    rolled_back = list(download.sub_tasks.filter(state=State.SUCCEED))
    assert len(rolled_back) == 2 and {st.operator for st in rolled_back} == {"ROLLBACK"}

    dag_operate(dag=dag, operator="RETRY", actor=ACTOR, reason="disk freed")
    dag = run_dag_to_end(dag.pk)
    assert (dag.state, dag.operator) == (State.SUCCEED, "RUN")
    failed.refresh_from_db()
    assert (failed.state, failed.operator, failed.execute_times) == (State.SUCCEED, "RUN", 3)
    for sub_task in rolled_back:
        sub_task.refresh_from_db()
        assert (sub_task.state, sub_task.operator, sub_task.execute_times) == (State.SUCCEED, "ROLLBACK", 2)
