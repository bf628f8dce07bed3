"""ROLLBACK: undo the failed stage and every earlier one, in reverse order, ending SUCCEED+ROLLBACK."""

import pytest

from tests.engine.helpers import assert_gapless_events, failed_run
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from upgrades.audit import Actor
from upgrades.engine.runner import run_dag_to_end
from upgrades.errors import ObshellError
from upgrades.models import AuditEntry, TaskLog
from upgrades.models.dag import State
from upgrades.services.dag_operators import dag_operate

ACTOR = Actor.system("test")


@pytest.mark.django_db
def test_rollback_undoes_stages_down_to_one():
    cluster = make_cluster()
    stock_packages(TARGET)
    dag = failed_run(cluster, TARGET, "Unpack all required packages")
    assert dag.stage == 5

    dag = dag_operate(dag=dag, operator="rollback", actor=ACTOR, reason="wrong target")
    assert (dag.state, dag.operator) == (State.READY, "ROLLBACK")
    assert set(dag.nodes.filter(seq__lte=5).values_list("state", "operator")) == {(State.PENDING, "ROLLBACK")}

    dag = run_dag_to_end(dag.pk)
    assert (dag.state, dag.operator, dag.stage, dag.holds_lock, dag.is_finished) == (
        State.SUCCEED,
        "ROLLBACK",
        1,
        False,
        True,
    )
    assert set(dag.nodes.filter(seq__lte=5).values_list("state", "operator")) == {(State.SUCCEED, "ROLLBACK")}
    assert set(dag.nodes.filter(seq__gt=5).values_list("state", flat=True)) == {State.PENDING}
    # Rollback actions ran from the failed stage down to 1.
    rollback_order = []
    for seq in (
        TaskLog.objects.filter(sub_task__dag=dag, phase="rollback")
        .order_by("id")
        .values_list("sub_task__node__seq", flat=True)
    ):
        if not rollback_order or rollback_order[-1] != seq:
            rollback_order.append(seq)
    assert rollback_order == [5, 4, 3, 2, 1]
    assert AuditEntry.objects.get(dag=dag, action="dag.operate").detail["operator"] == "ROLLBACK"
    assert_gapless_events(dag)


@pytest.mark.django_db
def test_rollback_refusals():
    cluster = make_cluster()
    stock_packages(TARGET)
    dag = start_upgrade(cluster, TARGET)
    with pytest.raises(ObshellError) as caught:
        dag_operate(dag=dag, operator="rollback", actor=ACTOR, reason="")
    assert (caught.value.err_code, caught.value.message) == (
        "Task.Dag.Operator.RollbackNotFailedDag",
        "Failed to set DAG rollback: DAG state is not failed",
    )
    dag.delete()

    # After Restart obshell (stage 8) nothing can be rolled back.
    dag = failed_run(cluster, TARGET, "Stop zone2")
    with pytest.raises(ObshellError) as caught:
        dag_operate(dag=dag, operator="rollback", actor=ACTOR, reason="")
    assert (caught.value.err_code, caught.value.status) == ("Task.Dag.Operator.RollbackNotAllowed", 400)
    assert caught.value.message == "Failed to set DAG rollback: node Restart obshell cannot rollback"
    dag.refresh_from_db()
    assert (dag.state, dag.operator, dag.holds_lock) == (State.FAILED, "RUN", True)
