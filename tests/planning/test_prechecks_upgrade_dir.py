import pytest

from tests.planning.helpers import checks_by_key
from tests.support.builds import OB_4_3_0_1_20240322 as TARGET
from tests.support.factories import make_cluster
from upgrades.planning.plan import plan_upgrade

TARGET_VERSION, TARGET_RELEASE = TARGET

PATTERN = "^[a-zA-Z0-9\u4e00-\u9fa5\\-_:@/\\.]*$"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("", ""),
        ("   ", ""),
        ("/data/1/upgrade", "/data/1/upgrade"),
        ("/home/admin/升级-dir_1:@x.y", "/home/admin/升级-dir_1:@x.y"),
    ],
)
def test_valid_or_default_upgrade_dirs(given, stored):
    plan = plan_upgrade(
        cluster=make_cluster(zones=3), version=TARGET_VERSION, release=TARGET_RELEASE, mode="ROLLING", upgrade_dir=given
    )
    assert checks_by_key(plan)["upgrade_dir"].ok is True
    assert plan.upgrade_dir == stored


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("data/upgrade", "should start with '/'"),
        (" /data/upgrade", "should start with '/'"),  # obshell validates the untrimmed text
        ("/data/up grade", f"should match pattern {PATTERN}"),
        ("/data/$HOME", f"should match pattern {PATTERN}"),
        ("/../etc", "should not lead to directory traversal issues when joined with a generated parent path"),
        ("/data/../../etc", "should not lead to directory traversal issues when joined with a generated parent path"),
    ],
)
def test_invalid_upgrade_dirs(given, reason):
    plan = plan_upgrade(
        cluster=make_cluster(zones=3), version=TARGET_VERSION, release=TARGET_RELEASE, mode="ROLLING", upgrade_dir=given
    )
    check = checks_by_key(plan)["upgrade_dir"]
    assert (check.ok, check.err_code, check.status) == (False, "Common.InvalidPath", 400)
    assert check.message == f"Path '{given}' is not valid: {reason}"


@pytest.mark.django_db
def test_a_dir_inside_itself_via_dots_is_still_valid():
    plan = plan_upgrade(
        cluster=make_cluster(zones=3),
        version=TARGET_VERSION,
        release=TARGET_RELEASE,
        mode="ROLLING",
        upgrade_dir="/data/a/../b/./upgrade",
    )
    assert checks_by_key(plan)["upgrade_dir"].ok is True
