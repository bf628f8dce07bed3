"""Planning obshell's own upgrade: obshell's lenient version comparison, the node lists of spec 5.7, and the plan
the pages preview (upgrades/planning/agent_plan.py)."""

import pytest

from tests.support.builds import OBSHELL_4_2_2_0_20240108 as OBSHELL
from tests.support.factories import make_cluster
from tests.support.packages import add_obshell_package
from upgrades.models import Dag, Server
from upgrades.planning.agent_plan import plan_agent_upgrade
from upgrades.planning.versions import compare_versions_as_obshell


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        ("4.2.2.0-100000032024010818", "4.2.1.0-100000102023092807", 1),
        ("4.2.1.0-100000102023092807", "4.2.1.0-100000102023092807", 0),
        ("4.2.1.0-100000102023092808", "4.2.1.0-100000102023092807", 1),
        ("4.2.1.0-9", "4.2.1.0-10", -1),  # the release compares as a number
        ("4.2.1.0.1-1", "4.2.1.0-99", 1),  # a longer version wins a tie of the common parts
        ("4.2-1", "4.2.0.0-1", -1),
        ("abc-1", "0-1", 0),  # a part that is not a number is 0
        ("4.x.1.0-5", "4.0.1.0-5", 0),
        ("4.2.1.0-7-9", "4.2.1.0-7", 0),  # only the text between the first and second '-' is the release
        ("", "0", 0),
        ("10.0.0.0-1", "9.9.9.9-99999999999999999999", 1),  # an overflowing release is clamped, not an error
    ],
)
def test_compare_versions_as_obshell(left, right, expected):
    assert compare_versions_as_obshell(left, right) == expected
    assert compare_versions_as_obshell(right, left) == -expected


@pytest.mark.django_db
def test_the_plans_node_lists_and_route():
    cluster = make_cluster(zones=2, servers_per_zone=2)
    add_obshell_package(OBSHELL)
    check = plan_agent_upgrade(cluster=cluster, version=OBSHELL.version, release=OBSHELL.release, check_only=True)
    upgrade = plan_agent_upgrade(cluster=cluster, version=OBSHELL.version, release=OBSHELL.release)
    assert check.ok and upgrade.ok
    assert (check.kind, check.max_stage, upgrade.kind, upgrade.max_stage) == (
        Dag.Kind.AGENT_UPGRADE_CHECK,
        5,
        Dag.Kind.AGENT_UPGRADE,
        9,
    )
    assert all(node.parallel and len(node.agents) == 4 for node in upgrade.nodes)
    assert [c.key for c in upgrade.checks][-1] == "agent_maintenance"
    assert "agent_maintenance" not in [c.key for c in check.checks]
    assert upgrade.route == [
        {
            "version": "4.2.2.0",
            "release": OBSHELL.build_number,
            "build_version": OBSHELL.label,
            "require_from_binary": False,
        }
    ]
    assert [p["rpm_name"] for p in upgrade.packages] == [f"obshell-{OBSHELL.version}-{OBSHELL.release}.x86_64.rpm"]


@pytest.mark.django_db
def test_a_missing_rpm_of_one_architecture_is_named_but_not_a_refusal():
    cluster = make_cluster(zones=3)
    Server.objects.filter(pk=cluster.agent_server().pk).update(arch="aarch64")
    add_obshell_package(OBSHELL)
    plan = plan_agent_upgrade(cluster=cluster, version=OBSHELL.version, release=OBSHELL.release)
    assert plan.ok and plan.error is None
    assert plan.missing_packages == [f"obshell-{OBSHELL.version}-{OBSHELL.release}.aarch64.rpm"]
    package_check = next(c for c in plan.checks if c.key == "agent_package")
    assert "not uploaded: obshell-4.2.2.0-100000032024010818.el7.aarch64.rpm" in package_check.message


def test_hostile_version_parts_compare_in_bounded_time():
    assert compare_versions_as_obshell("9" * 100_000 + "-1", "4.2.1.0-1") == 1
    assert compare_versions_as_obshell("4.2.1.0-" + "9" * 100_000, "4.2.1.0-1") == 1
    assert compare_versions_as_obshell("-" + "9" * 5000, "0") == 1  # an empty version (0), a clamped release


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value"),
    [("version", "4." + "9" * 70), ("release", "1" * 130 + ".el7"), ("upgrade_dir", "/" + "d" * 600)],
)
def test_values_longer_than_the_run_records_are_refused(field, value):
    cluster = make_cluster(zones=3)
    params = {"version": OBSHELL.version, "release": OBSHELL.release, "upgrade_dir": "", field: value}
    plan = plan_agent_upgrade(cluster=cluster, **params)
    assert plan.error.err_code == "Common.BindJsonFailed" and "failed on the 'max' tag" in plan.error.message
