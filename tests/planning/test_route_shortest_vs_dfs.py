"""Where the product's shortest path and obshell's depth-first search disagree."""

import pytest

from tests.planning.helpers import depfile
from tests.support.paths import shipped_dep_yaml
from upgrades.errors import ObshellError
from upgrades.planning.route import DepGraph, obshell_path, obshell_route, path_keys, shortest_path, shortest_route


def routes(name, current, target):
    yaml_text = depfile(name)
    kw = dict(current_version=current[0], current_build=current[1], target_version=target[0], target_build=target[1])
    return (
        [n.build_version for n in shortest_route(yaml_text, **kw)],
        [n.build_version for n in obshell_route(yaml_text, **kw)],
    )


def paths(name, current, target):
    graph = DepGraph.parse(depfile(name))
    args = (graph, current[0], current[1], target[0], target[1])
    return path_keys(shortest_path(*args)), path_keys(obshell_path(*args))


def test_a_direct_edge_saves_a_barrier_hop():
    shortest, dfs = routes("shortcut_behind_barrier.yml", ("4.2.1.0", "1"), ("4.2.3.0", "2"))
    assert shortest == ["4.2.1.0", "4.2.3.0"]
    assert dfs == ["4.2.1.0", "4.2.1.2", "4.2.3.0"]
    assert paths("shortcut_behind_barrier.yml", ("4.2.1.0", "1"), ("4.2.3.0", "2")) == (
        ["4.2.1.0", "4.2.2.0", "4.2.3.0"],
        ["4.2.1.0", "4.2.1.1", "4.2.1.2", "4.2.3.0"],
    )


def test_a_withdrawn_version_is_not_a_transit_for_the_shortest_path():
    assert paths("deprecated_transit.yml", ("4.2.1.0", "1"), ("4.2.3.0", "2")) == (
        ["4.2.1.0", "4.2.1.1", "4.2.1.2", "4.2.3.0"],
        ["4.2.1.0", "4.2.2.0", "4.2.3.0"],
    )
    shortest, dfs = routes("deprecated_transit.yml", ("4.2.1.0", "1"), ("4.2.3.0", "2"))
    assert shortest == ["4.2.1.0", "4.2.1.2", "4.2.3.0"]
    assert dfs == ["4.2.1.0", "4.2.3.0"]


def test_the_specific_build_node_is_preferred_over_the_release_less_one():
    recalled = ("4.3.0.1", "100000182024022713")
    with pytest.raises(ObshellError) as info:
        routes("specific_build_target.yml", ("4.2.1.0", "1"), recalled)
    assert info.value.err_code == "OB.Upgrade.ToDeprecatedVersion"
    # obshell's search pops the release-less 4.3.0.1 first and accepts the recalled build.
    yaml_text = depfile("specific_build_target.yml")
    dfs = obshell_route(
        yaml_text, current_version="4.2.1.0", current_build="1", target_version=recalled[0], target_build=recalled[1]
    )
    assert [n.build_version for n in dfs] == ["4.2.1.0", "4.3.0.1"]


def test_a_deprecated_build_reached_only_through_its_version_is_refused():
    # In the real file nothing points at the 4.2 RC2 build; the release-less 4.2.0.0 node would accept any build.
    yaml_text = shipped_dep_yaml()
    kw = dict(current_version="4.1.0.2", current_build="1", target_version="4.2.0.0", target_build="100000152023080109")
    with pytest.raises(ObshellError) as info:
        shortest_route(yaml_text, **kw)
    assert info.value.err_code == "OB.Upgrade.ToDeprecatedVersion"
    assert [n.build_version for n in obshell_route(yaml_text, **kw)] == ["4.1.0.2", "4.2.0.0"]


def test_another_build_of_the_target_version_goes_through_the_release_less_node():
    assert routes("specific_build_target.yml", ("4.2.1.0", "1"), ("4.3.0.1", "100000192024030115")) == (
        ["4.2.1.0", "4.3.0.1"],
        ["4.2.1.0", "4.3.0.1"],
    )
