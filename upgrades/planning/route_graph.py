"""The dep file's version graph as a picture sees it: every version a node on a grid (columns left to right by
version, the builds of one version stacked in its column), every `can_be_upgraded_to` an edge, and the marks
the pages draw: barriers, deprecated builds, the chosen route hop by hop, the cluster's build and the target,
missing and stored packages.

The route is the one the plan runs (`route.shortest_path`, hops cut by `route.hop_ends`); this module only
places and marks, and `dashboard/pages/route_svg.py` draws. Strings stay as the file wrote them: the drawing
escapes them.
"""

import functools
from dataclasses import dataclass, field
from pathlib import Path

from upgrades.errors import ObshellError
from upgrades.planning import route as routes
from upgrades.planning.versions import version_sort_key

# A picture past these is not drawn (the page says so and keeps its text): a real file has about a hundred
# versions; a crafted one may declare 10,000.
MAX_NODES = 200
MAX_EDGES = 800

# The dep file this project ships (OceanBase's 4.0 to 4.3 history): what the packages page draws when no stored
# package carries one, and what the demo fleet's target packages carry.
SHIPPED_DEP_FILE = Path(__file__).parent / "depfiles" / "oceanbase_upgrade_dep.yml"


@functools.cache
def shipped_dep_yaml():
    return SHIPPED_DEP_FILE.read_text()


@dataclass
class GraphNode:
    key: str  # the dep file's literal key: `4.2.1.0` or `4.2.0.0-100000152023080109`
    version: str
    release: str  # routes.RELEASE_NULL for a release-less entry (any build of the version)
    declared: bool = True
    deprecated: bool = False
    barrier: bool = False  # require_from_binary is true (when_come_from may narrow it to some starts)
    barrier_from: tuple = ()
    column: int = 0
    row: int = 0
    current: bool = False
    target: bool = False
    on_route: bool = False
    hop: int | None = None  # the hop that ends here (1-based)
    route_barrier: bool = False  # installed from binary on this route
    missing: tuple = ()  # rpms of this hop not in the store
    stored: tuple = ()  # rpm names in the store for this node (packages page)

    @property
    def any_build(self):
        return self.release == routes.RELEASE_NULL


@dataclass
class GraphEdge:
    source: str
    target: str
    hop: int | None = None  # the route hop this step belongs to


@dataclass
class RouteGraph:
    nodes: list = field(default_factory=list)
    edges: list = field(default_factory=list)
    route: list = field(default_factory=list)  # GraphEdge per step of the route, in order (hop set)
    columns: int = 0
    rows: int = 0
    too_large: bool = False
    declared_count: int = 0
    route_error: str = ""

    def node(self, key):
        return self._by_key.get(key)

    def __post_init__(self):
        self._by_key = {n.key: n for n in self.nodes}

    @property
    def hops(self):
        """The route's hops in order: (number, start node, end node, the nodes passed on the way)."""
        steps = {}
        for step in self.route:
            steps.setdefault(step.hop, []).append(step)
        return [
            (number, self.node(part[0].source), self.node(part[-1].target), [self.node(s.target) for s in part[:-1]])
            for number, part in sorted(steps.items())
        ]


def _place(nodes):
    """Columns by version (numeric order, as obshell compares), rows by build within a version: the release-less
    entry first, then builds in order."""
    versions = sorted({n.version for n in nodes}, key=lambda v: (version_sort_key(v), v))
    column_of = {v: i for i, v in enumerate(versions)}
    rows = 0
    by_column = {}
    for n in nodes:
        by_column.setdefault(column_of[n.version], []).append(n)
    for column, members in by_column.items():
        members.sort(key=lambda n: (not n.any_build, len(n.release), n.release))
        for row, n in enumerate(members):
            n.column, n.row = column, row
        rows = max(rows, len(members))
    nodes.sort(key=lambda n: (n.column, n.row))
    return len(versions), rows


def build_graph(dep_yaml):
    """The placed graph of a dep file (no route). Raises ObshellError for a file the planner would refuse."""
    graph = routes.DepGraph.parse(dep_yaml)
    nodes = {}
    for dep in graph.nodes.values():
        value, when = routes.require_from_binary_spec(dep)
        nodes[dep.key] = GraphNode(
            key=dep.key,
            version=dep.version,
            release=dep.release,
            deprecated=dep.deprecated,
            barrier=bool(value),
            barrier_from=tuple(when),
        )
    edges = {}
    for dep in graph.nodes.values():
        for key in dep.targets:
            if not key:
                continue
            if key not in nodes:
                version, release = routes.split_key(key)
                nodes[key] = GraphNode(key=key, version=version, release=release, declared=False)
            edges.setdefault((dep.key, key), GraphEdge(dep.key, key))
    declared = len(graph.nodes)
    if len(nodes) > MAX_NODES or len(edges) > MAX_EDGES:
        return RouteGraph(too_large=True, declared_count=declared), graph
    placed = list(nodes.values())
    columns, rows = _place(placed)
    return RouteGraph(
        nodes=placed, edges=list(edges.values()), columns=columns, rows=rows, declared_count=declared
    ), graph


def _mark_end(picture, version, build, attribute):
    """Mark the node of a build with no route: the exact build's, else its version's release-less entry."""
    node = picture.node(f"{version}-{build}") or picture.node(version)
    if node is not None:
        setattr(node, attribute, True)


def plan_graph(*, dep_yaml, current, target, missing_by_hop=None):
    """The graph of `dep_yaml` with the route from `current` to `target` (each a (version, build) pair) marked
    as the plan runs it, and `missing_by_hop` (per hop, the rpms not in the store) flagged on each hop's end."""
    picture, graph = build_graph(dep_yaml)
    if picture.too_large:
        return picture
    (current_version, current_build), (target_version, target_build) = current, target
    try:
        path = routes.shortest_path(graph, current_version, current_build, target_version, target_build)
    except ObshellError as error:
        picture.route_error = error.message
        _mark_end(picture, current_version, current_build, "current")
        _mark_end(picture, target_version, target_build, "target")
        return picture
    ends = routes.hop_ends(path)
    flags = routes.barrier_flags(path)
    missing_by_hop = list(missing_by_hop or [])
    hop = 1
    for index, dep in enumerate(path):
        node = picture.node(dep.key)
        if node is None:
            continue
        node.on_route = True
        if index == 0:
            node.current = True
            continue
        picture.route.append(GraphEdge(path[index - 1].key, dep.key, hop=hop))
        if index in ends:
            node.hop = hop
            node.route_barrier = bool(flags[index]) and index != len(path) - 1
            if hop <= len(missing_by_hop):
                node.missing = tuple(missing_by_hop[hop - 1])
            hop += 1
    picture.node(path[-1].key).target = True
    return picture


def mark_stored(picture, packages):
    """Mark each node with the stored rpms of its version (a release-less node: any build the file does not
    deprecate, as the packages check looks them up; a build's node: that build). `packages` yields objects with
    name, version, release (the build number) and rpm_name."""
    deprecated = {}
    for node in picture.nodes:
        if node.deprecated and not node.any_build:
            deprecated.setdefault(node.version, set()).add(node.release)
    by_version = {}
    for package in packages:
        by_version.setdefault(package.version, []).append(package)
    for node in picture.nodes:
        found = [
            p.rpm_name
            for p in by_version.get(node.version, ())
            if (p.release not in deprecated.get(node.version, ()) if node.any_build else p.release == node.release)
        ]
        node.stored = tuple(sorted(found))
    return picture
