"""One maintenance DAG per cluster: the lock is taken at creation, kept by a failed DAG and released by
SUCCEED, PASS and a successful ROLLBACK. Check DAGs take none; a refused plan creates nothing."""

import pytest

from tests.engine.helpers import assert_gapless_events
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from upgrades.audit import Actor
from upgrades.backends.faults import fault_inject
from upgrades.engine.runner import run_dag_to_end
from upgrades.errors import ObshellError
from upgrades.models import AuditEntry, Dag, DagEvent
from upgrades.models.dag import State
from upgrades.services.dag_operators import dag_operate
from upgrades.services.dag_start import upgrade_check_start

TARGET_VERSION, TARGET_RELEASE = TARGET

ACTOR = Actor.system("test")


def assert_refused_by(cluster, holder):
    with pytest.raises(ObshellError) as caught:
        start_upgrade(cluster, TARGET)
    assert caught.value.err_code == "OB.Cluster.UnderMaintenanceWithDag"
    assert caught.value.status == 500
    assert f"under maintenance by DAG: {holder.name}" in caught.value.message
    assert Dag.objects.filter(cluster=cluster).count() == Dag.objects.filter(cluster=cluster, pk__lte=holder.pk).count()


@pytest.mark.django_db
def test_start_freezes_the_plan_and_takes_the_lock():
    cluster = make_cluster()
    stock_packages(TARGET)
    dag = start_upgrade(cluster, TARGET, reason="quarterly patch")
    assert dag.holds_lock and not dag.is_finished
    assert (dag.state, dag.operator, dag.stage, dag.maintenance_type) == (State.READY, "RUN", 1, 2)
    assert dag.plan["ok"] is True
    assert dag.plan["checks"] and all(check["ok"] for check in dag.plan["checks"])
    assert {p["name"] for p in dag.plan["packages"]} == {"oceanbase-ce", "oceanbase-ce-libs"}
    assert all(len(p["sha256"]) == 64 for p in dag.plan["packages"])
    assert (dag.mode, dag.actor_label, dag.reason) == ("ROLLING", "test", "quarterly patch")
    assert dag.route == dag.plan["route"]
    created = DagEvent.objects.get(dag=dag, seq=1)
    assert created.kind == "dag.created" and created.payload["dag"]["id"] == dag.pk
    entry = AuditEntry.objects.get(dag=dag, action="upgrade.start")
    assert (entry.outcome, entry.reason, entry.actor_label) == ("ok", "quarterly patch", "test")

    assert_refused_by(cluster, dag)
    refused = AuditEntry.objects.filter(cluster=cluster, action="upgrade.start", outcome="refused").get()
    assert "UnderMaintenanceWithDag" in refused.detail["errCode"]


@pytest.mark.django_db
def test_a_failed_upgrade_keeps_the_lock_until_it_succeeds():
    cluster = make_cluster()
    stock_packages(TARGET)
    fault_inject(cluster=cluster, node_name="Execute upgrade pre script")
    dag = run_dag_to_end(start_upgrade(cluster, TARGET).pk)
    assert dag.state == State.FAILED
    assert dag.holds_lock and not dag.is_finished
    assert_refused_by(cluster, dag)

    dag_operate(dag=dag, operator="retry", actor=ACTOR, reason="script fixed")
    dag = run_dag_to_end(dag.pk)
    assert dag.state == State.SUCCEED and not dag.holds_lock and dag.is_finished
    assert not Dag.objects.filter(cluster=cluster, holds_lock=True).exists()
    assert_gapless_events(dag)


@pytest.mark.django_db
def test_pass_releases_the_lock():
    cluster = make_cluster()
    stock_packages(TARGET)
    fault_inject(cluster=cluster, node_name="Remove upgrade check task dir")
    dag = run_dag_to_end(start_upgrade(cluster, TARGET).pk)
    assert dag.holds_lock
    dag = dag_operate(dag=dag, operator="PASS", actor=ACTOR, reason="dir removed by hand")
    assert (dag.state, dag.operator, dag.holds_lock, dag.is_finished) == (State.SUCCEED, "PASS", False, True)
    assert not Dag.objects.filter(cluster=cluster, holds_lock=True).exists()


@pytest.mark.django_db
def test_successful_rollback_releases_the_lock():
    cluster = make_cluster()
    stock_packages(TARGET)
    fault_inject(cluster=cluster, node_name="Check all required packages")
    dag = run_dag_to_end(start_upgrade(cluster, TARGET).pk)
    dag_operate(dag=dag, operator="rollback", actor=ACTOR, reason="bad package")
    dag = run_dag_to_end(dag.pk)
    assert (dag.state, dag.operator, dag.holds_lock) == (State.SUCCEED, "ROLLBACK", False)
    assert start_upgrade(cluster, TARGET).holds_lock


@pytest.mark.django_db
def test_check_dags_take_no_lock():
    cluster = make_cluster()
    stock_packages(TARGET)
    upgrade = start_upgrade(cluster, TARGET)
    check = upgrade_check_start(cluster=cluster, version=TARGET_VERSION, release=TARGET_RELEASE, actor=ACTOR)
    assert (check.maintenance_type, check.holds_lock, check.max_stage) == (1, False, 6)
    check = run_dag_to_end(check.pk)
    assert check.state == State.SUCCEED and check.is_finished
    upgrade.refresh_from_db()
    assert upgrade.holds_lock
    assert_gapless_events(check)


@pytest.mark.django_db
def test_a_failed_precheck_creates_nothing_and_is_audited():
    cluster = make_cluster()  # no packages uploaded
    with pytest.raises(ObshellError) as caught:
        start_upgrade(cluster, TARGET, reason="too early")
    assert not Dag.objects.exists()
    entry = AuditEntry.objects.get(action="upgrade.start")
    assert (entry.outcome, entry.reason, entry.detail["errCode"]) == ("refused", "too early", caught.value.err_code)
