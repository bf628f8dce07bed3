"""The upgrade route from a target package's `oceanbase_upgrade_dep.yml` (spec 4.1).

Two searches share one graph and one route formatter:

* `shortest_path` / `shortest_route` is what the product uses: the fewest hops, avoiding deprecated versions as the
  dep file's own header asks ("except for the start, no node may be deprecated; when both `A.B.C` and `A.B.C-D`
  match, prefer the latter"), and falling back to obshell's rules wherever obshell would run an upgrade the header's
  rules refuse or would run it in fewer hops (the decision is written above `shortest_path`).
* `obshell_path` / `obshell_route` replays obshell's depth-first search step by step (explicit stack,
  visited-on-push, neighbour order with specific releases first and release-less ones last, each edge added twice,
  a fresh ad-hoc node per reference to an undeclared version). It can return a longer route; the product consults
  it to know what obshell accepts, and tests show the two side by side.

Both then apply obshell's deprecation rule (step 5), barrier computation (step 6) and route shape (step 7): the
start, only the intermediate nodes that must be installed from binary, then the target.
"""

import functools
import heapq
from dataclasses import dataclass, field

from upgrades.errors import ObshellError, bad_request, server_error
from upgrades.planning.depfile import DepFileError, load_dep_file
from upgrades.planning.versions import join_build_version

RELEASE_NULL = "null"


@functools.lru_cache(maxsize=16)
def _load_entries(text):
    """Validated dep file entries (read-only; see depfile). Every plan parses its target's file, and it is the
    same text."""
    return load_dep_file(text)


def _unexpected(message):
    return server_error("Common.Unexpected", message)


def path_not_exist(current_version, target_version):
    return bad_request(
        "OB.Upgrade.Path.NotExist",
        f"Cannot find the upgrade path from the current version {current_version} to the target version "
        f"{target_version}, please check the upgrade dependency YAML file",
    )


def to_deprecated_version(target_version):
    return bad_request("OB.Upgrade.ToDeprecatedVersion", f"Target version {target_version} is deprecated")


@dataclass(eq=False)
class DepNode:
    """One version in the graph. Identity matters (obshell's visited set is by pointer)."""

    key: str
    version: str
    release: str
    deprecated: bool = False
    require_from_binary: object = None
    targets: list = field(default_factory=list)
    declared: bool = True

    @property
    def build_version(self):
        return self.version if self.release == RELEASE_NULL else f"{self.version}-{self.release}"


@dataclass
class RouteNode:
    version: str
    release: str
    build_version: str
    require_from_binary: bool = False
    deprecated_info: list = field(default_factory=list)

    def as_dict(self):
        return {
            "version": self.version,
            "release": self.release,
            "build_version": self.build_version,
            "require_from_binary": self.require_from_binary,
        }


def split_key(key):
    # obshell's BuildVersionNode splits on every "-" and keeps the first two parts: "4.2.1.0-1-x" is release "1".
    parts = key.split("-")
    return parts[0], (parts[1] if len(parts) > 1 else RELEASE_NULL)


class DepGraph:
    """The parsed dep file: declared nodes keyed by their literal `version` string."""

    def __init__(self, entries):
        self.nodes = {}
        for number, entry in enumerate(entries, start=1):
            # Entries come from depfile.load_dep_file: plain strings, lists of strings and bools.
            if not isinstance(entry, dict) or not isinstance(entry.get("version"), str):
                raise _unexpected(f"upgrade dependency entry {number} has no version")
            key = entry["version"].strip()
            if key in self.nodes:
                raise _unexpected(f"version {key} has duplicate")
            version, release = split_key(key)
            self.nodes[key] = DepNode(
                key=key,
                version=version,
                release=release,
                deprecated=bool(entry.get("deprecated", False)),
                require_from_binary=entry.get("require_from_binary"),
                targets=[str(t).strip() for t in (entry.get("can_be_upgraded_to") or [])],
            )

    @classmethod
    def parse(cls, text):
        try:
            entries = _load_entries(text)
        except DepFileError as exc:
            raise _unexpected(f"unmarshal upgrade dependency YAML failed: {exc}") from None
        return cls(entries)

    def node_for(self, key):
        """The declared node for a `can_be_upgraded_to` entry, or a fresh undeclared one."""
        node = self.nodes.get(key)
        if node is None:
            version, release = split_key(key)
            node = DepNode(key=key, version=version, release=release, declared=False)
        return node

    def deprecated_releases(self, version):
        return [n.release for n in self.nodes.values() if n.version == version and n.deprecated]


# --- route shape (spec 4.1 steps 5 to 7), shared by both searches ---------------------------------------------


def require_from_binary_spec(node):
    raw = node.require_from_binary
    if raw is None:
        return False, []
    if isinstance(raw, bool):
        return raw, []
    if isinstance(raw, dict):
        value = raw.get("value", False)
        if not isinstance(value, bool):
            raise _unexpected(f"require_from_binary.value of {node.key} is not a bool")
        return value, [str(v).strip() for v in (raw.get("when_come_from") or [])]
    raise _unexpected(f"require_from_binary of {node.key} is neither a bool nor a map")


def barrier_flags(path):
    """For each node of a found path, whether it is installed from binary on this path (obshell's FormatRoute)."""
    flags = []
    previous_barrier = path[0]
    for node in path:
        value, when_come_from = require_from_binary_spec(node)
        if when_come_from:
            came_from = previous_barrier.version in when_come_from or (
                f"{previous_barrier.version}-{previous_barrier.release}" in when_come_from
            )
            value = value and came_from
            if value:
                previous_barrier = node
        flags.append(value)
    return flags


def hop_ends(path):
    """The indexes in `path` where a hop ends: every barrier between the start and the target, then the target."""
    flags = barrier_flags(path)
    return [i for i in range(1, len(path) - 1) if flags[i]] + [len(path) - 1]


def format_route(path, graph, target_version):
    """Deprecation check, barrier flags and the route [start, barriers..., target] for a found path."""
    if path[-1].deprecated:
        raise to_deprecated_version(target_version)
    formatted = [
        RouteNode(
            version=node.version,
            release=node.release,
            build_version=node.build_version,
            require_from_binary=value,
            deprecated_info=graph.deprecated_releases(node.version),
        )
        for node, value in zip(path, barrier_flags(path), strict=True)
    ]
    barriers = [n for n in formatted[1:-1] if n.require_from_binary]
    return [formatted[0], *barriers, formatted[-1]]


def _collapse(final, predecessor, start):
    """Rebuild the path through predecessor links, skipping same-version predecessors (never the start)."""
    path = []
    node = final
    while node is not None:
        path.insert(0, node)
        pre = predecessor.get(id(node))
        while pre is not None and predecessor.get(id(pre)) is not None and node.version == pre.version:
            pre = predecessor.get(id(pre))
        node = pre
    if len(path) == 1:
        path.insert(0, start)
    return path


# --- the product's search --------------------------------------------------------------------------------------
#
# Decision (issue 10, "accept everything obshell accepts"; obshell ob/agent/executor/ob/upgrade_route.go,
# FindShortestUpgradePath): whenever obshell's depth-first search finds a route that is not refused as deprecated,
# the product finds one too, and never one with more hops (route nodes: start, barriers, target). The product
# therefore searches twice at most:
#
# 1. Strict, as the dep file's header asks: the start is the exact `version-build`, else the release-less
#    `version`, else the newest `version-D` with D <= build; no node but the start may be deprecated; a declared,
#    deprecated target build is refused (OB.Upgrade.ToDeprecatedVersion).
# 2. Only when obshell's search (replayed below) accepts the upgrade and the strict search found nothing, or found
#    a route with more hops than obshell's: obshell's rules. The start is obshell's (GetNode: exact, else the
#    greatest release in Go's byte order, where the sentinel "null" of a release-less entry sorts after every
#    numeric build); deprecated intermediates may be passed; a target-version node that is not deprecated ends the
#    walk, so a deprecated exact build is reached through its release-less node as obshell reaches it (obshell then
#    overwrites the last node's release with the requested build: GetNode in upgrade_ob_check.go's
#    getTargetObUpgradeDepYaml, mirrored by route_for).
#
# Both are one cheapest-walk search: a Dijkstra over (node, previous barrier) states, because whether a node is a
# barrier depends on the barrier before it (FormatRoute's when_come_from). The cost is compared in order: the final
# node deprecated (only to report ToDeprecatedVersion rather than a missing path), hops, deprecated nodes passed,
# nodes on the walk, and the exact build before the release-less node (the header's preference). A node's barrier
# flag is settled when the walk leaves its version: obshell's path rebuild drops a node followed by one of the same
# version (except the start), so such a node never counts.

# Budgets per search (a real file needs a few hundred of each). A crafted file that exceeds them gets obshell's own
# route (its search is linear), so the budget never refuses what obshell accepts.
MAX_RELAXATIONS = 1_000_000
MAX_STATES = 100_000


class _SearchBudgetExceeded(Exception):
    pass


def _resolve_start(graph, version, build):
    """Exact `version-build`, else the release-less `version`, else the newest `version-D` with D <= build."""
    exact = graph.nodes.get(f"{version}-{build}")
    if exact is not None:
        return exact
    plain = graph.nodes.get(version)
    if plain is not None:
        return plain
    candidates = [
        n
        for n in graph.nodes.values()
        if n.version == version and n.release.isdigit() and build.isdigit() and int(n.release) <= int(build)
    ]
    return max(candidates, key=lambda n: int(n.release), default=None)


def _barrier_mentions(graph):
    """Every `version` and `version-release` string some when_come_from list names."""
    mentioned = set()
    for node in graph.nodes.values():
        mentioned.update(require_from_binary_spec(node)[1])
    return mentioned


def _collapse_walk(walk):
    """obshell's path rebuild on a walk: a node followed by one of the same version is dropped (never the start)."""
    path = [walk[-1]]
    i = len(walk) - 1
    while i > 0:
        j = i - 1
        while j > 0 and walk[j].version == walk[i].version:
            j -= 1
        path.insert(0, walk[j])
        i = j
    if len(path) == 1:
        path.insert(0, walk[0])
    return path


def _cheapest_walk(graph, start, target_version, target_build, *, strict):
    """The walk (start first) of the cheapest upgrade from `start`, or None. See the comment above for the cost."""
    shared = {}

    def resolve(key):
        node = graph.nodes.get(key)
        if node is None:
            node = shared.get(key)
            if node is None:
                node = shared[key] = graph.node_for(key)
        return node

    mentioned = _barrier_mentions(graph)

    def barrier_class(node):
        # Only the previous barrier's version and version-release are ever compared, and only with mentioned strings.
        keys = (node.version, f"{node.version}-{node.release}")
        return keys if (keys[0] in mentioned or keys[1] in mentioned) else None

    def leave(node, previous, hops):
        """Settle `node`'s barrier flag as the walk leaves its version: (previous barrier, hops) after it."""
        if node is start:
            return previous, hops
        value, when_come_from = require_from_binary_spec(node)
        if when_come_from:
            value = value and previous is not None and (previous[0] in when_come_from or previous[1] in when_come_from)
            if value:
                return barrier_class(node), hops + 1
        return previous, hops + (1 if value else 0)

    def is_final(node):
        return node is not start and node.version == target_version and node.release in (target_build, RELEASE_NULL)

    first = (start.key, barrier_class(start))
    best = {first: (0, 0, 1)}
    parent = {first: None}
    heap = [((0, 0, 1), 0, first, start)]
    counter = 1
    relaxations = 0
    finals = []
    while heap:
        cost, _, state, node = heapq.heappop(heap)
        if best[state] != cost:
            continue
        hops, deprecated, length = cost
        if is_final(node):
            passed = deprecated - (1 if node.deprecated else 0)
            finals.append(
                ((int(node.deprecated), hops, passed, length, node.release != target_build), len(finals), state)
            )
        if node is not start and node.deprecated and strict:
            continue  # a deprecated node may end a strict walk (to be refused as such), never lead through it
        same_version_only = node.version == target_version and node is not start
        if same_version_only and node.release not in (target_build, RELEASE_NULL):
            continue  # obshell: another build of the target version is a dead end
        for key in node.targets:
            relaxations += 1
            if relaxations > MAX_RELAXATIONS:
                raise _SearchBudgetExceeded
            nxt = resolve(key)
            if same_version_only and nxt.version != target_version:
                continue
            if nxt is start:
                continue
            if nxt.version == node.version and node is not start:
                previous, new_hops = state[1], hops
            else:
                previous, new_hops = leave(node, state[1], hops)
            new_cost = (new_hops, deprecated + (1 if nxt.deprecated else 0), length + 1)
            new_state = (nxt.key, previous)
            if new_state not in best or new_cost < best[new_state]:
                if len(best) >= MAX_STATES and new_state not in best:
                    raise _SearchBudgetExceeded
                best[new_state] = new_cost
                parent[new_state] = state
                heapq.heappush(heap, (new_cost, counter, new_state, nxt))
                counter += 1
    if not finals:
        return None
    state = min(finals)[2]
    walk = []
    while state is not None:
        walk.insert(0, resolve(state[0]))
        state = parent[state]
    return walk


def _route_hops(path, graph, target_version):
    try:
        return len(format_route(path, graph, target_version))
    except ObshellError:
        return None


def shortest_path(graph, current_version, current_build, target_version, target_build):
    """The DepNode path the product upgrades along (see the decision above), or raise OB.Upgrade.Path.NotExist /
    OB.Upgrade.ToDeprecatedVersion."""
    strict_error = None
    strict = None
    start = _resolve_start(graph, current_version, current_build)
    exact_target = graph.nodes.get(f"{target_version}-{target_build}")
    if start is None:
        strict_error = path_not_exist(current_version, target_version)
    elif exact_target is not None and exact_target.deprecated:
        strict_error = to_deprecated_version(target_version)
    else:
        try:
            walk = _cheapest_walk(graph, start, target_version, target_build, strict=True)
        except _SearchBudgetExceeded:
            walk = None
        if walk is None:
            strict_error = path_not_exist(current_version, target_version)
        else:
            strict = _collapse_walk(walk)
            if strict[-1].deprecated:
                strict_error, strict = to_deprecated_version(target_version), None
    try:
        dfs = obshell_path(graph, current_version, current_build, target_version, target_build)
    except ObshellError:
        dfs = None
    dfs_hops = _route_hops(dfs, graph, target_version) if dfs is not None else None
    if strict is not None and (dfs_hops is None or len(format_route(strict, graph, target_version)) <= dfs_hops):
        return strict
    if dfs_hops is None:
        raise strict_error
    try:
        walk = _cheapest_walk(
            graph, _obshell_start(graph, current_version, current_build), target_version, target_build, strict=False
        )
    except _SearchBudgetExceeded:
        walk = None
    relaxed = _collapse_walk(walk) if walk is not None else None
    if relaxed is None or _route_hops(relaxed, graph, target_version) is None:
        return dfs  # only a crafted file exhausts the budget; obshell's own answer is then the bound
    return relaxed if len(format_route(relaxed, graph, target_version)) <= dfs_hops else dfs


def shortest_route(dep_yaml, *, current_version, current_build, target_version, target_build):
    graph = DepGraph.parse(dep_yaml)
    path = shortest_path(graph, current_version, current_build, target_version, target_build)
    return format_route(path, graph, target_version)


# --- obshell's search, replayed ----------------------------------------------------------------------------------


def _obshell_neighbours(graph):
    """Each node's neighbour list as obshell builds it: the edge builder runs twice; a target with a release is
    prepended, a release-less one appended; an undeclared target becomes a new node object every time."""
    neighbours = {}
    for node in graph.nodes.values():
        nxt = []
        for _ in range(2):
            for key in node.targets:
                target = graph.node_for(key)
                if target.release == RELEASE_NULL:
                    nxt.append(target)
                else:
                    nxt.insert(0, target)
        neighbours[id(node)] = nxt
    return neighbours


def _obshell_start(graph, version, build):
    """obshell's GetNode: the exact `version-build`, else the same version's greatest release."""
    exact = graph.nodes.get(f"{version}-{build}")
    if exact is not None:
        return exact
    # Go compares strings byte by byte, which is Python's code-point order for UTF-8 text. Lexicographic: the sentinel "null" sorts after every numeric release, so a release-less node wins.
    candidates = [n for n in graph.nodes.values() if n.version == version]
    return max(candidates, key=lambda n: n.release, default=None)


def obshell_path(graph, current_version, current_build, target_version, target_build):
    start = _obshell_start(graph, current_version, current_build)
    if start is None:
        raise path_not_exist(current_version, target_version)
    neighbours = _obshell_neighbours(graph)
    stack = [start]
    visited = {id(start)}
    predecessor = {}
    final = None
    while stack:
        node = stack.pop()
        if node.version == target_version:
            if node.release == target_build:
                final = node
                break
            if node.release == RELEASE_NULL:
                extended = False
                for nxt in neighbours.get(id(node), []):
                    if id(nxt) not in visited and nxt.version == target_version:
                        extended = True
                        predecessor[id(nxt)] = node
                        stack.append(nxt)
                        visited.add(id(nxt))
                if not extended:
                    final = node
                    break
        else:
            for nxt in neighbours.get(id(node), []):
                if id(nxt) not in visited:
                    predecessor[id(nxt)] = node
                    stack.append(nxt)
                    visited.add(id(nxt))
    if final is None:
        # obshell indexes an empty slice here and answers 500; the port reports the missing path instead.
        raise path_not_exist(current_version, target_version)
    return _collapse(final, predecessor, start)


def obshell_route(dep_yaml, *, current_version, current_build, target_version, target_build):
    graph = DepGraph.parse(dep_yaml)
    path = obshell_path(graph, current_version, current_build, target_version, target_build)
    return format_route(path, graph, target_version)


def hotfix_route(*, current_version, current_build, target_version, target_build):
    """Same version, higher build: [current, target], no dep file needed."""
    return [
        RouteNode(current_version, current_build, join_build_version(current_version, current_build)),
        RouteNode(target_version, target_build, join_build_version(target_version, target_build)),
    ]


def route_for(dep_yaml, *, current_version, current_build, target_version, target_build):
    """The route from current to target (start node included); the last node carries the target's build."""
    if current_version == target_version:
        return hotfix_route(
            current_version=current_version,
            current_build=current_build,
            target_version=target_version,
            target_build=target_build,
        )
    if not (dep_yaml or "").strip():
        raise server_error("OB.Upgrade.DepYamlMissing", "Target package upgrade dependency YAML is empty")
    route = shortest_route(
        dep_yaml,
        current_version=current_version,
        current_build=current_build,
        target_version=target_version,
        target_build=target_build,
    )
    last = route[-1]
    last.release = target_build
    last.build_version = f"{target_version}-{target_build}"
    return route


def deprecated_build_note(dep_yaml, *, current_version, target_version, target_build):
    """A sentence for the plan when the dep file marks the requested build deprecated and the upgrade still runs
    (reached through the version's release-less entry, as obshell reaches it), else ""."""
    if current_version == target_version or not (dep_yaml or "").strip():
        return ""
    node = DepGraph.parse(dep_yaml).nodes.get(f"{target_version}-{target_build}")
    if node is None or not node.deprecated:
        return ""
    return (
        f"the dep file marks {node.key} deprecated; obshell upgrades to it through the {target_version} entry, "
        "and so does this plan"
    )


def path_keys(path):
    """A path's node keys, for tests and explanations."""
    return [n.build_version for n in path]
