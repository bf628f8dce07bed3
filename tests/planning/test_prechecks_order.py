"""All pre-checks in obshell's order; the first failure is the plan's error; dependents are not evaluated."""

import pytest

from tests.planning.helpers import checks_by_key
from tests.support.builds import OB_4_3_0_1_20240322 as TARGET
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from upgrades.planning.plan import plan_upgrade, plan_upgrade_check

TARGET_VERSION, TARGET_RELEASE = TARGET

UPGRADE_KEYS = [
    "params",
    "agents",
    "mode",
    "zones",
    "python",
    "upgrade_dir",
    "tenants_schema",
    "tablets_merging",
    "major_compaction",
    "min_observer_version",
    "tenant_compatible",
    "backup",
    "release",
    "min_version",
    "newer",
    "target_package",
    "dep_yaml",
    "route",
    "packages",
    "maintenance",
]


@pytest.mark.django_db
def test_a_clean_plan_passes_every_check_in_order():
    cluster = make_cluster(zones=3)
    stock_packages(TARGET, cluster.edition)
    plan = plan_upgrade(cluster=cluster, version=TARGET_VERSION, release=TARGET_RELEASE, mode="ROLLING")
    assert [c.key for c in plan.checks] == UPGRADE_KEYS
    assert all(c.ok is True and c.hint for c in plan.checks)
    assert plan.ok and plan.error is None
    assert plan.raise_if_failed() is plan


@pytest.mark.django_db
def test_the_first_failure_is_the_error_and_later_independent_checks_still_run():
    cluster = make_cluster(zones=3)
    cluster.health = {"tablets_merging": 12, "running_backup_task": 2}
    cluster.save()
    plan = plan_upgrade(cluster=cluster, version=TARGET_VERSION, release=TARGET_RELEASE, mode="ROLLING")
    checks = checks_by_key(plan)
    assert (plan.error.err_code, plan.error.status, plan.error.message) == (
        "OB.Upgrade.TabletInMerging",
        400,
        "There are 12 tablets merging",
    )
    assert checks["backup"].ok is False
    assert checks["target_package"].ok is False  # nothing uploaded
    assert checks["target_package"].status == 500
    assert [checks[k].ok for k in ("dep_yaml", "route", "packages")] == [None, None, None]
    assert checks["route"].message.startswith("Not evaluated: ")
    assert checks["maintenance"].ok is True
    assert plan.nodes == [] and plan.max_stage == 0
    with pytest.raises(Exception) as info:
        plan.raise_if_failed()
    assert info.value.err_code == "OB.Upgrade.TabletInMerging"


@pytest.mark.django_db
def test_missing_parameters_are_a_bind_failure():
    cluster = make_cluster(zones=3)
    plan = plan_upgrade(cluster=cluster, version="", release=TARGET_RELEASE, mode="")
    assert plan.error.err_code == "Common.BindJsonFailed"
    assert plan.error.status == 400
    assert plan.error.message == (
        "Bind JSON failed: Key: 'ObUpgradeParam.Version' Error:Field validation for 'Version' failed on the "
        "'required' tag\nKey: 'ObUpgradeParam.Mode' Error:Field validation for 'Mode' failed on the 'required' tag"
    )
    checks = checks_by_key(plan)
    assert checks["min_version"].ok is None and checks["target_package"].ok is None


@pytest.mark.django_db
def test_upgrade_check_runs_steps_1_6_8_5_and_plans_the_six_node_dag():
    cluster = make_cluster(zones=3)
    stock_packages(TARGET, cluster.edition)
    plan = plan_upgrade_check(cluster=cluster, version=TARGET_VERSION, release=TARGET_RELEASE)
    assert [c.key for c in plan.checks] == [
        "params",
        "upgrade_dir",
        "release",
        "min_version",
        "newer",
        "target_package",
        "dep_yaml",
        "route",
        "packages",
        "python",
    ]
    assert plan.ok
    assert (plan.kind, plan.mode, plan.maintenance_type, plan.max_stage) == ("upgrade_check", "", 1, 6)
    assert plan.dag_name == f"Upgrade check OB {TARGET_VERSION}-{TARGET_RELEASE}"
    # The check DAG ignores cluster health and the maintenance lock.
    cluster.health = {"tablets_merging": 1}
    cluster.save()
    assert plan_upgrade_check(cluster=cluster, version=TARGET_VERSION, release=TARGET_RELEASE).ok
