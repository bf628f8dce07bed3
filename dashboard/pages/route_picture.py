"""The route picture's context for the two pages that show it: a plan's preview (the route hop by hop) and the
packages page (the whole graph, stored packages marked)."""

from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from dashboard.pages.route_svg import clean, legend_items, node_marks, route_svg
from upgrades.errors import ObshellError
from upgrades.models.cluster import REQUIRED_PACKAGES
from upgrades.planning import route_graph
from upgrades.planning.versions import build_version_key

# The rpms a version node can be stored as: the OceanBase packages of every edition (obshell's own rpms share
# version numbers with OceanBase builds, and are not what the dep file describes).
OB_PACKAGE_NAMES = frozenset(name for names in REQUIRED_PACKAGES.values() for name in names)


@dataclass
class HopRow:
    number: int
    start: str
    end: str
    barrier: bool
    passed: list
    missing: list


@dataclass
class RoutePicture:
    kind: str  # "plan" or "store"
    svg: str = ""
    legend: list = field(default_factory=list)
    hops: list = field(default_factory=list)
    versions: list = field(default_factory=list)  # store: (key, marks, next keys), cleaned for display
    too_large: bool = False
    declared_count: int = 0
    error: str = ""
    route_error: str = ""


def plan_picture(plan):
    """The picture of a plan's dep file with its route, or None when the plan has no dep file to draw (a hotfix,
    or a check before the route failed)."""
    if not plan.dep_yaml.strip() or not plan.current[0] or not plan.target[0] or plan.current[0] == plan.target[0]:
        return None
    try:
        graph = route_graph.plan_graph(
            dep_yaml=plan.dep_yaml, current=plan.current, target=plan.target, missing_by_hop=plan.missing_by_hop
        )
    except ObshellError as error:
        return RoutePicture(kind="plan", error=error.message)
    title = _("Upgrade route of %(cluster)s: %(start)s to %(target)s") % {
        "cluster": plan.cluster.name,
        "start": plan.from_version,
        "target": plan.to_version,
    }
    picture = RoutePicture(
        kind="plan",
        svg=route_svg(graph, title=title),
        legend=legend_items(route=True),
        too_large=graph.too_large,
        declared_count=graph.declared_count,
        route_error=graph.route_error,
    )
    for number, start, end, passed in graph.hops:
        # The plan names the target by the requested build; the graph by the entry the route reached.
        label = plan.route[number - 1]["build_version"] if number <= len(plan.route) else end.key
        picture.hops.append(
            HopRow(
                number=number,
                start=clean(plan.from_version if number == 1 else start.key),
                end=clean(label),
                barrier=end.route_barrier,
                passed=[clean(n.key) for n in passed],
                missing=list(end.missing),
            )
        )
    return picture


def dep_file_sources(packages):
    """The stored packages that carry a dep file, one per distinct file, newest version first."""
    seen, sources = set(), []
    carriers = [p for p in packages if (p.upgrade_dep_yaml or "").strip()]
    carriers.sort(key=lambda p: (build_version_key(f"{p.version}-{p.release}"), p.pk), reverse=True)
    for package in carriers:
        if package.upgrade_dep_yaml not in seen:
            seen.add(package.upgrade_dep_yaml)
            sources.append(package)
    return sources


def store_picture(*, dep_yaml, packages, title):
    """The whole graph of `dep_yaml` with the OceanBase rpms among `packages` marked on their versions."""
    try:
        graph, _dep = route_graph.build_graph(dep_yaml)
    except ObshellError as error:
        return RoutePicture(kind="store", error=error.message)
    route_graph.mark_stored(graph, [p for p in packages if p.name in OB_PACKAGE_NAMES])
    following = {}
    for edge in graph.edges:
        following.setdefault(edge.source, []).append(edge.target)
    return RoutePicture(
        kind="store",
        svg=route_svg(graph, title=title),
        legend=legend_items(route=False),
        versions=[
            (clean(node.key), node_marks(node), [clean(key) for key in following.get(node.key, [])])
            for node in graph.nodes
        ],
        too_large=graph.too_large,
        declared_count=graph.declared_count,
    )
