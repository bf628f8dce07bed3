"""PASS (DAG): skip the failed node and the rest, ending SUCCEED+PASS. PASS (node): skip one failed node and
continue. Both only where the flags allow (spec 6.4)."""

import pytest

from tests.engine.helpers import assert_gapless_events, failed_run
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from upgrades.audit import Actor
from upgrades.engine.runner import run_dag_to_end
from upgrades.errors import ObshellError
from upgrades.models import AuditEntry, DagEvent
from upgrades.models.dag import State
from upgrades.services.dag_operators import dag_operate, node_pass

ACTOR = Actor.system("test")


@pytest.mark.django_db
def test_pass_the_dag_at_its_last_node():
    cluster = make_cluster()
    stock_packages(TARGET)
    dag = failed_run(cluster, TARGET, "Remove upgrade check task dir")
    started = dag.start_time
    dag = dag_operate(dag=dag, operator="pass", actor=ACTOR, reason="removed by hand")
    assert (dag.state, dag.operator, dag.is_finished, dag.holds_lock) == (State.SUCCEED, "PASS", True, False)
    assert dag.start_time == started and dag.end_time >= started
    node = dag.nodes.get(seq=dag.max_stage)
    assert (node.state, node.operator) == (State.SUCCEED, "PASS")
    assert set(node.sub_tasks.values_list("state", "operator")) == {(State.SUCCEED, "PASS")}
    assert_gapless_events(dag)


@pytest.mark.django_db
def test_pass_refusals():
    cluster = make_cluster()
    stock_packages(TARGET)
    dag = start_upgrade(cluster, TARGET)
    with pytest.raises(ObshellError) as caught:
        dag_operate(dag=dag, operator="pass", actor=ACTOR, reason="")
    assert (caught.value.err_code, caught.value.message) == (
        "Task.Dag.Operator.PassNotFailedDag",
        "Failed to pass DAG: DAG is not failed",
    )
    with pytest.raises(ObshellError) as caught:
        dag_operate(dag=dag, operator="skip", actor=ACTOR, reason="")
    assert (caught.value.err_code, caught.value.status, caught.value.message) == (
        "Task.Dag.Operator.NotSupport",
        400,
        "Operator skip is not supported",
    )
    dag.delete()

    dag = failed_run(cluster, TARGET, "Execute upgrade pre script")
    with pytest.raises(ObshellError) as caught:
        dag_operate(dag=dag, operator="pass", actor=ACTOR, reason="")
    assert caught.value.err_code == "Task.Dag.Operator.PassNotAllowed"
    assert caught.value.message == "Failed to pass DAG: node Execute upgrade pre script cannot pass"
    assert AuditEntry.objects.filter(dag=dag, action="dag.operate", outcome="refused").count() == 1
    assert not DagEvent.objects.filter(dag=dag, kind="operator.applied").exists()


@pytest.mark.django_db
def test_node_pass_continues_with_the_next_node():
    cluster = make_cluster()
    stock_packages(TARGET)
    dag = failed_run(cluster, TARGET, "Download all required packages")
    node = dag.nodes.get(seq=3)
    node = node_pass(node=node, actor=ACTOR, reason="packages already on disk")
    assert (node.state, node.operator) == (State.SUCCEED, "PASS")
    dag.refresh_from_db()
    assert (dag.state, dag.operator) == (State.READY, "RUN")
    applied = DagEvent.objects.get(dag=dag, kind="operator.applied")
    assert applied.payload["node_id"] == node.pk and applied.payload["operator"] == "PASS"
    dag = run_dag_to_end(dag.pk)
    assert (dag.state, dag.operator) == (State.SUCCEED, "RUN")
    assert AuditEntry.objects.get(dag=dag, action="node.pass").reason == "packages already on disk"
    assert_gapless_events(dag)


@pytest.mark.django_db
def test_node_pass_refusals():
    cluster = make_cluster()
    stock_packages(TARGET)
    dag = start_upgrade(cluster, TARGET)
    with pytest.raises(ObshellError) as caught:
        node_pass(node=dag.nodes.get(seq=1), actor=ACTOR)
    assert caught.value.err_code == "Task.Node.Operator.PassNotFailedDag"
    dag.delete()

    dag = failed_run(cluster, TARGET, "Stop zone1")
    with pytest.raises(ObshellError) as caught:
        node_pass(node=dag.nodes.get(seq=1), actor=ACTOR)
    assert caught.value.err_code == "Task.Node.Operator.PassNotFailedNode"
    with pytest.raises(ObshellError) as caught:
        node_pass(node=dag.nodes.get(name="Stop zone1"), actor=ACTOR)
    assert (caught.value.err_code, caught.value.status) == ("Task.Node.Operator.PassNotAllowed", 400)
    assert AuditEntry.objects.filter(dag=dag, action="node.pass", outcome="refused").count() == 2
