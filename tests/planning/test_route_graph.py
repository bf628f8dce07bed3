"""The route picture's model: the dep file's versions placed left to right, edges, and the marks (barrier,
deprecated, the route hop by hop, missing and stored packages), on the shipped file and on crafted ones."""

from types import SimpleNamespace

from tests.support.paths import shipped_dep_yaml
from upgrades.planning import route_graph
from upgrades.planning.route import route_for
from upgrades.planning.route_graph import build_graph, mark_stored, plan_graph

RC2 = ("4.2.0.0", "100000152023080109")  # deprecated in the shipped file
TARGET = ("4.3.0.1", "100000242024032211")


def keys(nodes):
    return [n.key for n in nodes]


def test_shipped_file_is_laid_out_left_to_right_by_version_with_builds_stacked():
    graph, _ = build_graph(shipped_dep_yaml())
    assert graph.columns == 13 and graph.rows == 3
    by_key = {n.key: n for n in graph.nodes}
    columns = [by_key[k].column for k in ("4.0.0.0", "4.1.0.0", "4.1.0.2", "4.2.0.0", "4.2.1.2", "4.3.3.0")]
    assert columns == sorted(columns) and len(set(columns)) == len(columns)
    # The release-less entry heads its column; the builds of that version stack under it.
    assert (by_key["4.2.0.0"].row, by_key["4.2.0.0-100000152023080109"].row) == (0, 1)
    assert by_key["4.2.0.0-100010022023081817"].column == by_key["4.2.0.0"].column
    assert len({(n.column, n.row) for n in graph.nodes}) == len(graph.nodes), "no two nodes share a place"
    assert ("4.1.0.2", "4.2.0.0") in {(e.source, e.target) for e in graph.edges}
    assert len(graph.edges) == 15  # 16 entries, the newest leads nowhere


def test_barriers_and_deprecated_builds_are_marked_from_the_file():
    graph, _ = build_graph(shipped_dep_yaml())
    assert keys(n for n in graph.nodes if n.barrier) == ["4.1.0.2", "4.2.1.2"]
    assert graph.node("4.2.1.2").barrier_from == ("4.1.0.0", "4.1.0.1", "4.1.0.2", "4.2.0.0")
    assert keys(n for n in graph.nodes if n.deprecated) == [
        "4.1.0.0-100000192023032010",
        "4.2.0.0-100000152023080109",
        "4.2.0.0-100010022023081817",
    ]


def test_route_is_marked_hop_by_hop_as_the_plan_runs_it():
    missing = [["oceanbase-ce-4.2.1.2-${release}.el7.x86_64.rpm"], []]
    graph = plan_graph(dep_yaml=shipped_dep_yaml(), current=RC2, target=TARGET, missing_by_hop=missing)
    plan_route = route_for(
        shipped_dep_yaml(),
        current_version=RC2[0],
        current_build=RC2[1],
        target_version=TARGET[0],
        target_build=TARGET[1],
    )
    assert [r.build_version for r in plan_route] == [
        "4.2.0.0-100000152023080109",
        "4.2.1.2",
        TARGET[0] + "-" + TARGET[1],
    ]
    assert [(s.source, s.target, s.hop) for s in graph.route] == [
        ("4.2.0.0-100000152023080109", "4.2.0.0", 1),
        ("4.2.0.0", "4.2.1.0", 1),
        ("4.2.1.0", "4.2.1.1", 1),
        ("4.2.1.1", "4.2.1.2", 1),
        ("4.2.1.2", "4.3.0.0", 2),
        ("4.3.0.0", "4.3.0.1", 2),
    ]
    assert [(n, start.key, end.key, keys(passed)) for n, start, end, passed in graph.hops] == [
        (1, "4.2.0.0-100000152023080109", "4.2.1.2", ["4.2.0.0", "4.2.1.0", "4.2.1.1"]),
        (2, "4.2.1.2", "4.3.0.1", ["4.3.0.0"]),
    ]
    assert keys(n for n in graph.nodes if n.current) == ["4.2.0.0-100000152023080109"]
    assert keys(n for n in graph.nodes if n.target) == ["4.3.0.1"]
    barrier = graph.node("4.2.1.2")
    assert (barrier.hop, barrier.route_barrier, barrier.missing) == (1, True, tuple(missing[0]))
    assert (graph.node("4.3.0.1").hop, graph.node("4.3.0.1").missing) == (2, ())
    assert not graph.node("4.1.0.2").on_route and graph.node("4.1.0.2").hop is None


def test_a_conditional_barrier_is_no_hop_when_the_route_does_not_come_from_its_list():
    # From 4.1.0.0 GA, 4.1.0.2 is passed (its barrier is for 4.0 and the beta only); 4.2.1.2 is a hop.
    graph = plan_graph(dep_yaml=shipped_dep_yaml(), current=("4.1.0.0", "100000202023040520"), target=TARGET)
    assert graph.node("4.1.0.2").on_route and graph.node("4.1.0.2").hop is None
    assert graph.node("4.1.0.2").barrier and not graph.node("4.1.0.2").route_barrier
    assert [end.key for _n, _s, end, _p in graph.hops] == ["4.2.1.2", "4.3.0.1"]


def test_no_route_still_marks_the_cluster_build_and_the_target():
    graph = plan_graph(dep_yaml=shipped_dep_yaml(), current=("4.3.3.0", "1"), target=("4.3.0.1", "2"))
    assert graph.route == [] and graph.route_error
    assert graph.node("4.3.3.0").current and graph.node("4.3.0.1").target


def test_stored_packages_are_marked_on_their_versions_never_on_a_deprecated_build_by_the_any_build_entry():
    graph, _ = build_graph(shipped_dep_yaml())
    rows = [
        SimpleNamespace(name="oceanbase-ce", version="4.2.1.2", release="102000042023120514", rpm_name="ce-4.2.1.2"),
        SimpleNamespace(name="oceanbase-ce", version="4.2.0.0", release=RC2[1], rpm_name="ce-rc2"),
    ]
    mark_stored(graph, rows)
    assert graph.node("4.2.1.2").stored == ("ce-4.2.1.2",)
    assert graph.node("4.2.0.0-100000152023080109").stored == ("ce-rc2",)
    assert graph.node("4.2.0.0").stored == (), "the RC2 build is deprecated: not an rpm of the release-less 4.2.0.0"
    assert keys(n for n in graph.nodes if n.stored) == ["4.2.0.0-100000152023080109", "4.2.1.2"]


def test_undeclared_targets_become_nodes_and_hostile_versions_are_kept_as_written():
    hostile = '<script>alert("x")</script>'
    text = f"""
- version: 4.2.0.0
  can_be_upgraded_to: ['{hostile}', 4.3.0.0]
- version: '{hostile}'
  can_be_upgraded_to: ['4.2.0.0']
"""
    graph, _ = build_graph(text)
    assert graph.node(hostile) is not None and graph.node(hostile).declared
    assert not graph.node("4.3.0.0").declared
    # A version that is not numbers sorts as zeros: before 4.2.0.0.
    assert graph.node(hostile).column < graph.node("4.2.0.0").column


def test_empty_file_is_an_empty_graph():
    graph, _ = build_graph("")
    assert (graph.nodes, graph.edges, graph.columns, graph.rows, graph.too_large) == ([], [], 0, 0, False)


def test_a_file_past_the_drawing_budget_is_not_placed():
    text = "\n".join(
        f"- version: 4.{i}.0.0\n  can_be_upgraded_to: [4.{i + 1}.0.0]" for i in range(route_graph.MAX_NODES)
    )
    graph, _ = build_graph(text)
    assert graph.too_large and graph.nodes == [] and graph.declared_count == route_graph.MAX_NODES
