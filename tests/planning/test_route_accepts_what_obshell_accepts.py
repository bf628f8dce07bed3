"""Whenever obshell's depth-first search finds a route, the product finds one, and never one with more hops.

Each case shows obshell's route (the replayed DFS) beside ours. The last tests check the promise on every pair of
versions in the shipped dep file and on generated dep graphs.
"""

import itertools
import random
import textwrap

import pytest
import yaml

from tests.planning.helpers import depfile
from tests.support.paths import shipped_dep_yaml
from upgrades.errors import ObshellError
from upgrades.planning import route as route_module
from upgrades.planning.route import (
    DepGraph,
    obshell_path,
    obshell_route,
    path_keys,
    route_for,
    shortest_path,
    shortest_route,
)


def side_by_side(dep_yaml, current, target):
    """(obshell's route, ours) as build versions; None for a search that refuses."""
    kw = dict(current_version=current[0], current_build=current[1], target_version=target[0], target_build=target[1])
    answers = []
    for search in (obshell_route, shortest_route):
        try:
            answers.append([n.build_version for n in search(dep_yaml, **kw)])
        except ObshellError:
            answers.append(None)
    return tuple(answers)


def dep(text):
    return textwrap.dedent(text)


def test_start_falls_back_to_the_greatest_build_of_the_current_version():
    # No release-less 4.2.1.0 and no declared build at or below the current 50: obshell starts from the greatest.
    dep_yaml = dep(
        """
        - version: 4.2.1.0-100
          can_be_upgraded_to: [4.2.2.0]
        - version: 4.2.1.0-200
          can_be_upgraded_to: [4.3.0.0]
        - version: 4.3.0.0
        """
    )
    assert side_by_side(dep_yaml, ("4.2.1.0", "50"), ("4.3.0.0", "9")) == (
        ["4.2.1.0-200", "4.3.0.0"],
        ["4.2.1.0-200", "4.3.0.0"],
    )


def test_start_falls_back_when_the_newest_lower_build_leads_nowhere():
    # Ours would start from -100 (the newest build at or below 150); only obshell's start (-200) reaches 4.3.0.0.
    dep_yaml = dep(
        """
        - version: 4.2.1.0-100
          can_be_upgraded_to: [4.2.2.0]
        - version: 4.2.1.0-200
          can_be_upgraded_to: [4.3.0.0]
        - version: 4.3.0.0
        """
    )
    assert side_by_side(dep_yaml, ("4.2.1.0", "150"), ("4.3.0.0", "9")) == (
        ["4.2.1.0-200", "4.3.0.0"],
        ["4.2.1.0-200", "4.3.0.0"],
    )


def test_start_orders_a_literal_null_build_as_obshell_does():
    # "4.2.1.0-null" has the release "null", which sorts after every numeric build in obshell's GetNode.
    dep_yaml = dep(
        """
        - version: 4.2.1.0-100
          can_be_upgraded_to: [4.2.2.0]
        - version: 4.2.1.0-null
          can_be_upgraded_to: [4.3.0.0]
        - version: 4.3.0.0
        """
    )
    assert side_by_side(dep_yaml, ("4.2.1.0", "50"), ("4.3.0.0", "9")) == (
        ["4.2.1.0", "4.3.0.0"],
        ["4.2.1.0", "4.3.0.0"],
    )


def test_a_release_less_start_is_preferred_to_a_build_as_in_obshell():
    dep_yaml = dep(
        """
        - version: 4.2.1.0-100
          can_be_upgraded_to: [4.2.2.0]
        - version: 4.2.1.0
          can_be_upgraded_to: [4.3.0.0]
        - version: 4.3.0.0
        """
    )
    assert side_by_side(dep_yaml, ("4.2.1.0", "300"), ("4.3.0.0", "9")) == (
        ["4.2.1.0", "4.3.0.0"],
        ["4.2.1.0", "4.3.0.0"],
    )


def test_a_deprecated_exact_build_is_reached_through_its_release_less_node():
    dep_yaml = dep(
        """
        - version: 4.2.1.0
          can_be_upgraded_to: [4.3.0.1-7, 4.3.0.1]
        - version: 4.3.0.1-7
          deprecated: true
        - version: 4.3.0.1
        """
    )
    assert side_by_side(dep_yaml, ("4.2.1.0", "1"), ("4.3.0.1", "7")) == (
        ["4.2.1.0", "4.3.0.1"],
        ["4.2.1.0", "4.3.0.1"],
    )
    route = route_for(
        dep_yaml, current_version="4.2.1.0", current_build="1", target_version="4.3.0.1", target_build="7"
    )
    assert [n.build_version for n in route] == ["4.2.1.0", "4.3.0.1-7"]
    assert route[-1].deprecated_info == ["7"]


def test_a_deprecated_exact_build_with_no_release_less_way_is_refused_by_both():
    dep_yaml = dep(
        """
        - version: 4.2.1.0
          can_be_upgraded_to: [4.3.0.1-7]
        - version: 4.3.0.1-7
          deprecated: true
        """
    )
    assert side_by_side(dep_yaml, ("4.2.1.0", "1"), ("4.3.0.1", "7")) == (None, None)
    with pytest.raises(ObshellError) as info:
        shortest_route(
            dep_yaml, current_version="4.2.1.0", current_build="1", target_version="4.3.0.1", target_build="7"
        )
    assert info.value.err_code == "OB.Upgrade.ToDeprecatedVersion"


def test_a_deprecated_intermediate_is_used_where_no_other_route_exists():
    dep_yaml = dep(
        """
        - version: 4.2.1.0
          can_be_upgraded_to: [4.2.2.0]
        - version: 4.2.2.0
          deprecated: true
          can_be_upgraded_to: [4.2.3.0]
          require_from_binary: true
        - version: 4.2.3.0
        """
    )
    assert side_by_side(dep_yaml, ("4.2.1.0", "1"), ("4.2.3.0", "2")) == (
        ["4.2.1.0", "4.2.2.0", "4.2.3.0"],
        ["4.2.1.0", "4.2.2.0", "4.2.3.0"],
    )


def test_a_deprecated_intermediate_is_avoided_when_that_costs_no_hop():
    # Both ways are one binary hop; the header's rule (no deprecated transit) decides, obshell's DFS does not care.
    dep_yaml = dep(
        """
        - version: 4.2.1.0
          can_be_upgraded_to: [4.2.1.1, 4.2.2.0]
        - version: 4.2.2.0
          deprecated: true
          can_be_upgraded_to: [4.2.3.0]
        - version: 4.2.1.1
          can_be_upgraded_to: [4.2.3.0]
        - version: 4.2.3.0
        """
    )
    graph = DepGraph.parse(dep_yaml)
    args = (graph, "4.2.1.0", "1", "4.2.3.0", "2")
    assert path_keys(obshell_path(*args)) == ["4.2.1.0", "4.2.2.0", "4.2.3.0"]
    assert path_keys(shortest_path(*args)) == ["4.2.1.0", "4.2.1.1", "4.2.3.0"]


def test_a_barrier_that_only_counts_after_another_one_is_walked_around():
    # The DFS reaches 4.2.4.0 through 4.2.2.0 and 4.2.3.0, both barriers (4.2.3.0 only after 4.2.2.0). Ours goes
    # through 4.2.2.5 and 4.2.3.0: 4.2.3.0 is then not a barrier, so one hop fewer.
    dep_yaml = dep(
        """
        - version: 4.2.1.0
          can_be_upgraded_to: [4.2.2.5, 4.2.2.0]
        - version: 4.2.2.0
          can_be_upgraded_to: [4.2.3.0]
          require_from_binary: {value: true, when_come_from: [4.2.1.0]}
        - version: 4.2.2.5
          can_be_upgraded_to: [4.2.3.0]
        - version: 4.2.3.0
          can_be_upgraded_to: [4.2.4.0]
          require_from_binary: {value: true, when_come_from: [4.2.2.0]}
        - version: 4.2.4.0
        """
    )
    assert side_by_side(dep_yaml, ("4.2.1.0", "1"), ("4.2.4.0", "2")) == (
        ["4.2.1.0", "4.2.2.0", "4.2.3.0", "4.2.4.0"],
        ["4.2.1.0", "4.2.4.0"],
    )


def test_every_pair_of_the_shipped_file():
    dep_yaml = shipped_dep_yaml()
    graph = DepGraph.parse(dep_yaml)
    starts = [(n.version, n.release if n.release != "null" else "1") for n in graph.nodes.values()]
    targets = [(n.version, n.release if n.release != "null" else "999") for n in graph.nodes.values()]
    compared = 0
    for current, target in itertools.product(starts, targets):
        if current[0] == target[0]:
            continue
        dfs, ours = side_by_side(dep_yaml, current, target)
        if dfs is not None:
            assert ours is not None, (current, target, dfs)
            assert len(ours) <= len(dfs), (current, target, dfs, ours)
            compared += 1
    assert compared > 40


VERSIONS = [f"4.{minor}.{patch}.0" for minor in range(1, 4) for patch in range(3)]
BUILDS = ["100", "200", "300", "null"]


def generated_dep_file(rng):
    """A small random dep file: release-less and built entries, ad-hoc targets, deprecated entries, bare and
    conditional barriers, cycles."""
    versions = sorted(rng.sample(VERSIONS, rng.randint(3, 7)))
    keys = []
    for version in versions:
        if rng.random() < 0.7:
            keys.append(version)
        keys.extend(f"{version}-{rng.choice(BUILDS)}" for _ in range(rng.choice([0, 0, 1, 2])))
    keys = list(dict.fromkeys(keys))
    entries = []
    for key in keys:
        pool = [*keys, *versions, f"{rng.choice(versions)}-{rng.choice(['100', '250'])}"]
        entry = {"version": key, "can_be_upgraded_to": rng.sample(pool, min(len(pool), rng.randint(0, 3)))}
        if rng.random() < 0.25:
            entry["deprecated"] = True
        roll = rng.random()
        if roll < 0.2:
            entry["require_from_binary"] = True
        elif roll < 0.45:
            entry["require_from_binary"] = {"value": True, "when_come_from": rng.sample(keys + versions, 2)}
        entries.append(entry)
    return yaml.safe_dump(entries), versions


def test_generated_dep_graphs():
    rng = random.Random(20261201)
    found_by_dfs = shorter = 0
    for _ in range(400):
        dep_yaml, versions = generated_dep_file(rng)
        current, target = rng.sample(versions, 2)
        cb, tb = rng.choice(["50", "100", "150", "200", "300"]), rng.choice(["100", "200", "250", "999"])
        dfs, ours = side_by_side(dep_yaml, (current, cb), (target, tb))
        if dfs is None:
            continue
        found_by_dfs += 1
        assert ours is not None, (dep_yaml, current, cb, target, tb, dfs)
        assert len(ours) <= len(dfs), (dep_yaml, current, cb, target, tb, dfs, ours)
        shorter += len(ours) < len(dfs)
    # The generator must exercise the promise, including routes where ours is shorter.
    assert found_by_dfs > 50 and shorter > 0


@pytest.mark.parametrize("budget", ["MAX_STATES", "MAX_RELAXATIONS"])
def test_a_search_over_budget_takes_obshells_route(monkeypatch, budget):
    # Only a crafted file exhausts the search's budgets; the upgrade is then planned along obshell's own route.
    monkeypatch.setattr(route_module, budget, 2)
    dep_yaml = depfile("shortcut_behind_barrier.yml")
    dfs, ours = side_by_side(dep_yaml, ("4.2.1.0", "1"), ("4.2.3.0", "2"))
    assert ours == dfs == ["4.2.1.0", "4.2.1.2", "4.2.3.0"]
