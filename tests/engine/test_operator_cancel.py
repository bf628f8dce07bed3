"""CANCEL: fails the current node's pending work with `sub task cancelled`; the DAG ends FAILED+CANCEL and
keeps the lock. Refused on a finished DAG and past the last cancellable node."""

import pytest

from tests.engine.helpers import assert_gapless_events, failed_run, step_until
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from upgrades.audit import Actor
from upgrades.engine.runner import run_dag_to_end
from upgrades.errors import ObshellError
from upgrades.models import SubTask
from upgrades.models.dag import State
from upgrades.services.dag_operators import dag_operate

ACTOR = Actor.system("test")


@pytest.mark.django_db
def test_cancel_a_running_dag_then_retry_it():
    cluster = make_cluster()
    stock_packages(TARGET)
    dag = start_upgrade(cluster, TARGET)
    dag = step_until(dag, lambda d: d.stage == 10 and d.nodes.get(seq=10).state == State.RUNNING)
    dag = dag_operate(dag=dag, operator="cancel", actor=ACTOR, reason="change window closed")
    assert (dag.state, dag.operator, dag.holds_lock, dag.is_finished) == (State.FAILED, "CANCEL", True, False)
    node = dag.nodes.get(seq=10)
    assert (node.name, node.state, node.operator) == ("Backup parameters", State.FAILED, "CANCEL")
    sub_task = node.sub_tasks.get()
    # obshell's SetSubTaskFailed keeps the sub-task's operator; the node carries CANCEL.
    assert (sub_task.state, sub_task.operator) == (State.FAILED, "RUN")
    assert sub_task.logs.last().line == "sub task cancelled"
    # As obshell's rows read once its scheduler ran the cancel: DAG and node restarted and finished at once.
    assert dag.start_time == dag.end_time == node.start_time == node.end_time == sub_task.end_time
    assert sub_task.start_time < sub_task.end_time
    assert dag.nodes.filter(seq__gt=10, state=State.PENDING).count() == 20

    dag_operate(dag=dag, operator="retry", actor=ACTOR, reason="new window")
    dag = run_dag_to_end(dag.pk)
    assert (dag.state, dag.operator) == (State.SUCCEED, "RUN")
    assert_gapless_events(dag)


@pytest.mark.django_db
def test_cancel_a_dag_that_has_not_started():
    cluster = make_cluster()
    stock_packages(TARGET)
    dag = dag_operate(dag=start_upgrade(cluster, TARGET), operator="CANCEL", actor=ACTOR, reason="oops")
    assert (dag.state, dag.operator, dag.stage) == (State.FAILED, "CANCEL", 1)
    assert not SubTask.objects.filter(dag=dag, state=State.FAILED).exists()
    assert_gapless_events(dag)


@pytest.mark.django_db
def test_cancel_refusals():
    cluster = make_cluster()
    stock_packages(TARGET)
    dag = start_upgrade(cluster, TARGET)
    # Stage 11 (Execute upgrade checker script) is the first node that cannot cancel.
    dag = step_until(dag, lambda d: d.stage == 11)
    with pytest.raises(ObshellError) as caught:
        dag_operate(dag=dag, operator="cancel", actor=ACTOR, reason="")
    assert (caught.value.err_code, caught.value.status) == ("Task.Dag.Operator.CancelNotAllowed", 400)
    assert caught.value.message == "Failed to cancel DAG: node Execute upgrade checker script cannot cancel"
    dag = run_dag_to_end(dag.pk)
    assert dag.state == State.SUCCEED
    with pytest.raises(ObshellError) as caught:
        dag_operate(dag=dag, operator="cancel", actor=ACTOR, reason="")
    assert (caught.value.err_code, caught.value.message) == (
        "Task.Dag.Operator.CancelFinishedDag",
        "Failed to cancel DAG: DAG is finished",
    )


@pytest.mark.django_db
def test_cancel_refused_on_a_failed_dag():
    cluster = make_cluster()
    stock_packages(TARGET)
    dag = failed_run(cluster, TARGET, "Create upgrade dir")
    with pytest.raises(ObshellError) as caught:
        dag_operate(dag=dag, operator="cancel", actor=ACTOR, reason="")
    assert caught.value.err_code == "Task.Dag.Operator.CancelFinishedDag"
