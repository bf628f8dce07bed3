import pytest

from tests.planning.helpers import checks_by_key
from tests.support.builds import OB_4_3_0_1_20240322 as TARGET
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from upgrades.planning.plan import plan_upgrade

TARGET_VERSION, TARGET_RELEASE = TARGET


def plan(cluster, mode):
    return plan_upgrade(cluster=cluster, version=TARGET_VERSION, release=TARGET_RELEASE, mode=mode)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("given", "mode"), [("rolling", "ROLLING"), ("Rolling", "ROLLING"), ("stopService", "STOPSERVICE")]
)
def test_mode_is_case_insensitive(given, mode):
    cluster = make_cluster(zones=3)
    stock_packages(TARGET, cluster.edition)
    result = plan(cluster, given)
    assert result.ok and result.mode == mode
    prefix = "OB rolling upgrade" if mode == "ROLLING" else "OB stop service upgrade"
    assert result.dag_name == f"{prefix} {TARGET_VERSION}-{TARGET_RELEASE}"


@pytest.mark.django_db
def test_an_unknown_mode_is_refused_with_its_upper_cased_value():
    cluster = make_cluster(zones=3)
    result = plan(cluster, "blue-green")
    checks = checks_by_key(result)
    assert (checks["mode"].err_code, checks["mode"].status, checks["mode"].message) == (
        "OB.Upgrade.Mode.NotSupported",
        400,
        "Upgrade mode 'BLUE-GREEN' is not supported",
    )
    assert checks["zones"].ok is None
    assert result.mode == "" and result.dag_name == ""


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("zones", "shared", "ok"), [(2, False, False), (1, False, False), (2, True, True), (1, True, False)]
)
def test_rolling_needs_three_zones_or_two_with_shared_storage(zones, shared, ok):
    cluster = make_cluster(zones=zones, shared_storage=shared)
    stock_packages(TARGET, cluster.edition)
    check = checks_by_key(plan(cluster, "ROLLING"))["zones"]
    assert check.ok is ok
    if not ok:
        assert (check.err_code, check.status, check.message) == (
            "OB.Upgrade.UnableToRollingUpgrade",
            400,
            "Rolling upgrade requires at least 3 zones (or 2 zones for shared storage mode)",
        )


@pytest.mark.django_db
def test_stop_service_works_on_a_single_zone_and_a_failed_zone_check_plans_no_nodes():
    cluster = make_cluster(zones=1)
    stock_packages(TARGET, cluster.edition)
    assert plan(cluster, "STOPSERVICE").max_stage == 18
    rolling = plan(cluster, "ROLLING")
    assert rolling.error.err_code == "OB.Upgrade.UnableToRollingUpgrade"
    assert rolling.nodes == []
