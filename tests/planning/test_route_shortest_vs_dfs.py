"""Where the product's shortest path and obshell's depth-first search disagree."""

from tests.planning.helpers import depfile
from tests.support.paths import shipped_dep_yaml
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


def test_a_withdrawn_version_is_passed_when_avoiding_it_costs_a_hop_obshell_does_not_pay():
    # Avoiding the deprecated 4.2.2.0 means installing the 4.2.1.2 barrier; obshell goes straight through 4.2.2.0
    # (not a barrier, so never installed). Ours may not be longer than obshell's, so it takes obshell's walk.
    assert paths("deprecated_transit.yml", ("4.2.1.0", "1"), ("4.2.3.0", "2")) == (
        ["4.2.1.0", "4.2.2.0", "4.2.3.0"],
        ["4.2.1.0", "4.2.2.0", "4.2.3.0"],
    )
    shortest, dfs = routes("deprecated_transit.yml", ("4.2.1.0", "1"), ("4.2.3.0", "2"))
    assert shortest == dfs == ["4.2.1.0", "4.2.3.0"]


def test_a_recalled_build_is_reached_through_its_release_less_node_as_obshell_does():
    recalled = ("4.3.0.1", "100000182024022713")
    # obshell's search pops the release-less 4.3.0.1 first and accepts the recalled build; so do we.
    assert routes("specific_build_target.yml", ("4.2.1.0", "1"), recalled) == (
        ["4.2.1.0", "4.3.0.1"],
        ["4.2.1.0", "4.3.0.1"],
    )


def test_a_deprecated_build_reached_only_through_its_version_is_accepted_as_obshell_does():
    # In the real file nothing points at the 4.2 RC2 build; the release-less 4.2.0.0 node accepts any build.
    yaml_text = shipped_dep_yaml()
    kw = dict(current_version="4.1.0.2", current_build="1", target_version="4.2.0.0", target_build="100000152023080109")
    assert [n.build_version for n in obshell_route(yaml_text, **kw)] == ["4.1.0.2", "4.2.0.0"]
    assert [n.build_version for n in shortest_route(yaml_text, **kw)] == ["4.1.0.2", "4.2.0.0"]


def test_another_build_of_the_target_version_goes_through_the_release_less_node():
    assert routes("specific_build_target.yml", ("4.2.1.0", "1"), ("4.3.0.1", "100000192024030115")) == (
        ["4.2.1.0", "4.3.0.1"],
        ["4.2.1.0", "4.3.0.1"],
    )
