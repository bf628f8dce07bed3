"""RETRY: a new attempt of the failed node; failed sub-tasks roll back first, succeeded ones are not re-run."""

import pytest

from tests.engine.helpers import assert_gapless_events, failed_run
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from upgrades.audit import Actor
from upgrades.engine.runner import run_dag_to_end
from upgrades.errors import ObshellError
from upgrades.models import AuditEntry, DagEvent, Server, TaskLog
from upgrades.models.dag import EPOCH, State
from upgrades.services.dag_operators import dag_operate

TARGET_BUILD_VERSION = TARGET.build_version

ACTOR = Actor.system("test")


@pytest.mark.django_db
def test_retry_reruns_only_the_failed_sub_task_after_its_rollback():
    cluster = make_cluster(zones=3, servers_per_zone=2)
    stock_packages(TARGET)
    victim = Server.objects.filter(cluster=cluster, zone__name="zone1").order_by("id").last()
    dag = failed_run(cluster, TARGET, "Reinstall and restart observer", server=victim.agent_address)
    node = dag.nodes.get(seq=dag.stage)
    assert (node.zone_name, node.state) == ("zone1", State.FAILED)
    failed = node.sub_tasks.get(state=State.FAILED)
    assert failed.server_id == victim.pk
    assert failed.logs.last().line == "ERROR: [OB.Cluster.AsyncOperationTimeout]: wait for all servers active timeout"
    other = node.sub_tasks.get(state=State.SUCCEED)

    dag = dag_operate(dag=dag, operator="retry", actor=ACTOR, reason="server repaired")
    assert (dag.state, dag.operator, dag.start_time, dag.end_time) == (State.READY, "RUN", EPOCH, EPOCH)
    node.refresh_from_db()
    assert (node.state, node.operator) == (State.PENDING, "RETRY")

    dag = run_dag_to_end(dag.pk)
    assert (dag.state, dag.operator) == (State.SUCCEED, "RUN")
    failed.refresh_from_db()
    other.refresh_from_db()
    assert (failed.state, failed.execute_times, failed.operator) == (State.SUCCEED, 2, "RUN")  # RUN or ROLLBACK only
    assert (other.state, other.execute_times) == (State.SUCCEED, 1)
    second = list(failed.logs.filter(execute_times=2).values_list("phase", flat=True))
    assert second[0] == TaskLog.Phase.ROLLBACK and TaskLog.Phase.RUN in second
    assert not other.logs.filter(execute_times=2).exists()
    assert set(Server.objects.filter(cluster=cluster).values_list("build_version", flat=True)) == {TARGET_BUILD_VERSION}

    applied = DagEvent.objects.get(dag=dag, kind="operator.applied")
    assert applied.payload == {"operator": "RETRY", "actor": "test", "reason": "server repaired"}
    entry = AuditEntry.objects.get(dag=dag, action="dag.operate")
    assert (entry.outcome, entry.reason, entry.detail["operator"]) == ("ok", "server repaired", "RETRY")
    assert_gapless_events(dag)


@pytest.mark.django_db
def test_a_fault_for_two_attempts_needs_two_retries():
    cluster = make_cluster()
    stock_packages(TARGET)
    dag = failed_run(cluster, TARGET, "Stop zone2", times=2)
    dag_operate(dag=dag, operator="RETRY", actor=ACTOR, reason="first retry")
    dag = run_dag_to_end(dag.pk)
    assert dag.state == State.FAILED and dag.nodes.get(seq=dag.stage).name == "Stop zone2"
    dag_operate(dag=dag, operator="Retry", actor=ACTOR, reason="second retry")
    dag = run_dag_to_end(dag.pk)
    assert dag.state == State.SUCCEED
    stop = dag.nodes.get(name="Stop zone2").sub_tasks.get()
    assert stop.execute_times == 3
    assert_gapless_events(dag)


@pytest.mark.django_db
def test_retry_refusals():
    cluster = make_cluster()
    stock_packages(TARGET)
    dag = start_upgrade(cluster, TARGET)
    with pytest.raises(ObshellError) as caught:
        dag_operate(dag=dag, operator="retry", actor=ACTOR, reason="too early")
    assert (caught.value.err_code, caught.value.status) == ("Task.Dag.Operator.RetryNotFailedDag", 400)
    assert caught.value.message == "Failed to set DAG retry: DAG state is not failed"
    refused = AuditEntry.objects.get(dag=dag, action="dag.operate")
    assert (refused.outcome, refused.detail["errCode"]) == ("refused", "Task.Dag.Operator.RetryNotFailedDag")

    assert DagEvent.objects.filter(dag=dag, kind="operator.applied").count() == 0


@pytest.mark.django_db
def test_retry_refused_when_the_failed_node_cannot_retry():
    # Every upgrade node can retry (spec 5.8); a node without the flag shows the refusal.
    cluster = make_cluster()
    stock_packages(TARGET)
    dag = failed_run(cluster, TARGET, "Check the python environment")
    dag.nodes.filter(seq=dag.stage).update(can_retry=False)
    with pytest.raises(ObshellError) as caught:
        dag_operate(dag=dag, operator="retry", actor=ACTOR, reason="no")
    assert caught.value.err_code == "Task.Dag.Operator.RetryNotAllowed"
    assert caught.value.message == "Failed to set DAG retry: node Check the python environment cannot retry"
    dag.refresh_from_db()
    assert dag.state == State.FAILED
