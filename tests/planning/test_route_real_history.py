"""OceanBase's real 4.0 -> 4.3 upgrade history (the shipped oceanbase_upgrade_dep.yml)."""

import pytest

from tests.support.paths import shipped_dep_yaml
from upgrades.errors import ObshellError
from upgrades.planning.route import obshell_route, route_for, shortest_route

YAML = shipped_dep_yaml()


def hops(current, target, search=shortest_route):
    (cv, cb), (tv, tb) = current, target
    return [
        n.build_version for n in search(YAML, current_version=cv, current_build=cb, target_version=tv, target_build=tb)
    ]


@pytest.mark.parametrize(
    ("current", "target", "route"),
    [
        # From 4.0: 4.1.0.2 and 4.2.1.2 must both be installed from binary on the way.
        (
            ("4.0.0.0", "100000282022112511"),
            ("4.3.0.1", "100000242024032211"),
            ["4.0.0.0", "4.1.0.2", "4.2.1.2", "4.3.0.1"],
        ),
        # From the 4.1 beta (deprecated, but a valid start): same barriers, the beta counts as 4.0-era.
        (
            ("4.1.0.0", "100000192023032010"),
            ("4.2.1.0", "100000102023092807"),
            ["4.1.0.0-100000192023032010", "4.1.0.2", "4.2.1.0"],
        ),
        # From 4.1.0.0 GA: 4.1.0.2 is not a barrier (only for 4.0 and the beta); 4.2.1.2 is.
        (("4.1.0.0", "100000202023040520"), ("4.3.0.1", "100000242024032211"), ["4.1.0.0", "4.2.1.2", "4.3.0.1"]),
        # From the 4.2 RC2 build: the start node is the deprecated RC2 entry; 4.2.1.2 is a barrier.
        (
            ("4.2.0.0", "100000152023080109"),
            ("4.3.3.0", "100000142024101215"),
            ["4.2.0.0-100000152023080109", "4.2.1.2", "4.3.3.0"],
        ),
        # From 4.2.0.0 GA (any build not declared): the release-less 4.2.0.0 node.
        (("4.2.0.0", "101000032023091319"), ("4.3.0.1", "100000242024032211"), ["4.2.0.0", "4.2.1.2", "4.3.0.1"]),
        # From 4.2.1.0: already past the 4.2.1.x barrier, a single binary hop.
        (("4.2.1.0", "100000102023092807"), ("4.3.0.1", "100000242024032211"), ["4.2.1.0", "4.3.0.1"]),
        (("4.3.0.1", "100000242024032211"), ("4.3.3.0", "100000142024101215"), ["4.3.0.1", "4.3.3.0"]),
    ],
)
def test_real_routes(current, target, route):
    assert hops(current, target) == route
    # The real file is a chain: obshell's depth-first search finds the same route.
    assert hops(current, target, obshell_route) == route


def test_barrier_flags_and_release_of_each_route_node():
    route = shortest_route(
        YAML, current_version="4.0.0.0", current_build="1", target_version="4.3.0.1", target_build="100000242024032211"
    )
    assert [(n.version, n.release, n.require_from_binary) for n in route] == [
        ("4.0.0.0", "null", False),
        ("4.1.0.2", "null", True),
        ("4.2.1.2", "null", True),
        ("4.3.0.1", "null", False),
    ]


def test_route_for_forces_the_target_build_on_the_last_node_and_keeps_deprecated_builds():
    route = route_for(
        YAML, current_version="4.1.0.1", current_build="1", target_version="4.2.0.0", target_build="101000032023091319"
    )
    assert [n.build_version for n in route] == ["4.1.0.1", "4.2.0.0-101000032023091319"]
    assert route[-1].release == "101000032023091319"
    # The RC2 builds of 4.2.0.0 are excluded when any release of 4.2.0.0 is looked up.
    assert sorted(route[-1].deprecated_info) == ["100000152023080109", "100010022023081817"]


def test_a_deprecated_build_is_a_target_through_its_release_less_entry_as_in_obshell():
    # obshell's search stops at the release-less 4.2.0.0 (no same-version successor) and then installs the exact
    # build asked for, recalled or not (ob/agent/executor/ob/upgrade_route.go, upgrade_ob_check.go).
    target = ("4.2.0.0", "100000152023080109")
    assert hops(("4.1.0.2", "1"), target) == hops(("4.1.0.2", "1"), target, obshell_route) == ["4.1.0.2", "4.2.0.0"]
    route = route_for(
        YAML, current_version="4.1.0.2", current_build="1", target_version=target[0], target_build=target[1]
    )
    assert [n.build_version for n in route] == ["4.1.0.2", "4.2.0.0-100000152023080109"]


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (("3.1.4.0", "1"), ("4.3.0.1", "2")),  # no start node
        (("4.3.0.1", "1"), ("4.2.1.0", "2")),  # no edge backwards
        (("4.2.1.0", "1"), ("4.4.0.0", "2")),  # target not in the file
    ],
)
def test_no_route(current, target):
    with pytest.raises(ObshellError) as info:
        hops(current, target)
    assert (info.value.err_code, info.value.status) == ("OB.Upgrade.Path.NotExist", 400)
    assert info.value.message == (
        f"Cannot find the upgrade path from the current version {current[0]} to the target version {target[0]}, "
        "please check the upgrade dependency YAML file"
    )


def test_hotfix_needs_no_dep_file():
    route = route_for(
        "",
        current_version="4.2.1.0",
        current_build="100000102023092807",
        target_version="4.2.1.0",
        target_build="100000112023102412",
    )
    assert [n.build_version for n in route] == ["4.2.1.0-100000102023092807", "4.2.1.0-100000112023102412"]


def test_a_missing_dep_file_is_reported_for_a_version_change():
    with pytest.raises(ObshellError) as info:
        route_for("  \n", current_version="4.2.1.0", current_build="1", target_version="4.3.0.1", target_build="2")
    assert (info.value.err_code, info.value.status, info.value.message) == (
        "OB.Upgrade.DepYamlMissing",
        500,
        "Target package upgrade dependency YAML is empty",
    )
