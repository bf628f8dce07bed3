"""Verification of simulated clusters after real (simulated) runs: the post script sets what a real one sets, and a
fault that stops it leaves the checks failed with what was found."""

import pytest

from tests.engine.helpers import failed_run
from tests.support.builds import OB_4_2_1_0_20230928 as START
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from upgrades.audit import Actor
from upgrades.engine.runner import run_dag_to_end
from upgrades.models import Dag, Server, Tenant, Zone
from upgrades.models.dag import State
from upgrades.services.dag_operators import dag_operate
from upgrades.services.verification import cluster_verification, run_verification

pytestmark = pytest.mark.django_db


def statuses(result):
    return {check["key"]: check["status"] for check in result["checks"]}


def found(result, key):
    return {subject: value for subject, value in next(c for c in result["checks"] if c["key"] == key)["found"]}


def test_a_new_cluster_agrees_with_its_own_build():
    cluster = make_cluster(zones=3)
    result = cluster_verification(cluster)["result"]
    assert result["target_build"] == START.build_version and result["outcome"] == "passed"
    assert set(statuses(result).values()) == {"passed"}
    assert result["parameters"]["compatible"] == {"sys": START.version, "app": START.version}


def test_a_finished_upgrade_keeps_a_passed_verification():
    cluster = make_cluster(zones=3)
    stock_packages(TARGET)
    dag = run_dag_to_end(start_upgrade(cluster, TARGET).pk)
    assert dag.state == State.SUCCEED
    kept = Dag.objects.get(pk=dag.pk).verification
    assert kept["outcome"] == "passed" and kept["target_build"] == TARGET.build_version
    checks = {check["key"]: check for check in kept["checks"]}
    assert checks["servers_on_target"]["total"] == 3 and checks["tenant_compatible"]["total"] == 2
    assert set(Tenant.objects.filter(cluster=cluster).values_list("compatible", flat=True)) == {TARGET.version}
    assert {s.parameters["min_observer_version"] for s in Server.objects.filter(cluster=cluster)} == {TARGET.version}
    assert {s.parameters["enable_upgrade_mode"] for s in Server.objects.filter(cluster=cluster)} == {"False"}
    post = dag.nodes.get(name="Execute upgrade post script").sub_tasks.get()
    lines = [log.line for log in post.logs.order_by("id")]
    assert "[upgrade_post] ALTER SYSTEM END UPGRADE" in lines
    # Kept: a later change to the cluster does not rewrite the run's verification.
    Zone.objects.filter(cluster=cluster, name="zone2").update(status=Zone.Status.INACTIVE)
    assert run_verification(Dag.objects.get(pk=dag.pk))["outcome"] == "passed"
    assert cluster_verification(cluster)["result"]["outcome"] == "failed"


def test_a_failed_post_script_leaves_upgrade_mode_on_and_versions_behind():
    cluster = make_cluster(zones=3)
    stock_packages(TARGET)
    dag = failed_run(cluster, TARGET, "Execute upgrade post script")
    result = run_verification(dag)
    assert statuses(result) == {
        "servers_on_target": "passed",
        "min_observer_version": "failed",
        "tenant_compatible": "failed",
        "upgrade_mode_off": "failed",
        "no_stopped_zone": "passed",
    }
    assert result["outcome"] == "failed"
    assert found(result, "tenant_compatible") == {"app": START.version, "sys": START.version}
    assert set(found(result, "upgrade_mode_off").values()) == {"True"}
    assert not Dag.objects.get(pk=dag.pk).verification  # waiting for an operator: nothing kept yet
    # The cluster page compares with the newest build its servers run: every server already runs the target.
    assert statuses(cluster_verification(cluster)["result"])["upgrade_mode_off"] == "failed"
    dag = dag_operate(dag=dag, operator="retry", actor=Actor.system("test"), reason="rerun the post script")
    assert run_dag_to_end(dag.pk).state == State.SUCCEED
    assert Dag.objects.get(pk=dag.pk).verification["outcome"] == "passed"


def test_a_zone_left_stopped_fails_that_check_with_the_zone():
    cluster = make_cluster(zones=3)
    stock_packages(TARGET)
    dag = failed_run(cluster, TARGET, "Start zone2")
    result = run_verification(dag)
    assert found(result, "no_stopped_zone") == {"zone2": "INACTIVE"}
    assert found(result, "servers_on_target").keys() == {
        f"{s.ip}:{s.rpc_port}" for s in Server.objects.filter(cluster=cluster, zone__name="zone3")
    }


def test_unrecorded_values_are_unknown_never_passed():
    cluster = make_cluster(zones=3)
    Tenant.objects.filter(cluster=cluster).delete()
    Server.objects.filter(cluster=cluster).update(parameters={})
    result = cluster_verification(cluster)["result"]
    assert statuses(result)["tenant_compatible"] == "unknown"
    assert statuses(result)["min_observer_version"] == "unknown"
    assert result["outcome"] == "unknown"
    reasons = {check["key"]: check["reason"] for check in result["checks"]}
    assert "no tenant recorded" in reasons["tenant_compatible"]
