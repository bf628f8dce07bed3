"""The upgrade route from a target package's `oceanbase_upgrade_dep.yml` (spec 4.1).

Two searches share one graph and one route formatter:

* `shortest_route` is what the product uses: a breadth-first search, as the dep file's own header describes it
  ("find a shortest path between the start and the target; except for the start, no node may be deprecated; when
  both `A.B.C` and `A.B.C-D` match, prefer the latter").
* `obshell_route` replays obshell's depth-first search step by step (explicit stack, visited-on-push, neighbour
  order with specific releases first and release-less ones last, each edge added twice, a fresh ad-hoc node per
  reference to an undeclared version). It can return a longer path; tests use it to show where the two differ.

Both then apply obshell's deprecation rule (step 5), barrier computation (step 6) and route shape (step 7): the
start, only the intermediate nodes that must be installed from binary, then the target.
"""

import functools
from collections import deque
from dataclasses import dataclass, field

from upgrades.errors import bad_request, server_error
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


def _split_key(key):
    version, sep, release = key.partition("-")
    return version, (release if sep else RELEASE_NULL)


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
            version, release = _split_key(key)
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
            version, release = _split_key(key)
            node = DepNode(key=key, version=version, release=release, declared=False)
        return node

    def deprecated_releases(self, version):
        return [n.release for n in self.nodes.values() if n.version == version and n.deprecated]


# --- route shape (spec 4.1 steps 5 to 7), shared by both searches ---------------------------------------------


def _require_from_binary_spec(node):
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


def format_route(path, graph, target_version):
    """Deprecation check, barrier flags and the route [start, barriers..., target] for a found path."""
    if path[-1].deprecated:
        raise to_deprecated_version(target_version)
    formatted = []
    previous_barrier = path[0]
    for node in path:
        value, when_come_from = _require_from_binary_spec(node)
        if when_come_from:
            came_from = previous_barrier.version in when_come_from or (
                f"{previous_barrier.version}-{previous_barrier.release}" in when_come_from
            )
            value = value and came_from
            if value:
                previous_barrier = node
        formatted.append(
            RouteNode(
                version=node.version,
                release=node.release,
                build_version=node.build_version,
                require_from_binary=value,
                deprecated_info=graph.deprecated_releases(node.version),
            )
        )
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


def shortest_path(graph, current_version, current_build, target_version, target_build):
    """The DepNode path of a shortest upgrade, or raise OB.Upgrade.Path.NotExist."""
    start = _resolve_start(graph, current_version, current_build)
    if start is None:
        raise path_not_exist(current_version, target_version)
    exact_target = graph.nodes.get(f"{target_version}-{target_build}")
    if exact_target is not None and exact_target.deprecated:
        # A declared, deprecated build is never a target, even where only the release-less node is reachable.
        raise to_deprecated_version(target_version)
    shared = {}

    def resolve(key):
        if key not in shared:
            shared[key] = graph.node_for(key)
        return shared[key]

    predecessor = {id(start): None}
    seen = {id(start)}
    order = deque([start])
    found = {}
    while order:
        node = order.popleft()
        if node is not start and node.version == target_version:
            if node.release in (target_build, RELEASE_NULL):
                found.setdefault(node.release, node)
            if target_build in found:
                break
            continue
        for key in node.targets:
            nxt = resolve(key)
            if id(nxt) in seen:
                continue
            is_target = nxt.version == target_version and nxt.release in (target_build, RELEASE_NULL)
            # Intermediates may not be deprecated (the dep file's header); a deprecated target is reported below.
            if nxt.deprecated and not is_target:
                continue
            seen.add(id(nxt))
            predecessor[id(nxt)] = node
            order.append(nxt)
    final = found.get(target_build) or found.get(RELEASE_NULL)
    if final is None:
        raise path_not_exist(current_version, target_version)
    return _collapse(final, predecessor, start)


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
    exact = graph.nodes.get(f"{version}-{build}")
    if exact is not None:
        return exact
    # Lexicographic: the sentinel "null" sorts after every numeric release, so a release-less node wins.
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


def path_keys(path):
    """A path's node keys, for tests and explanations."""
    return [n.build_version for n in path]
