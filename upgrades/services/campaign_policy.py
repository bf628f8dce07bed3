"""What campaigns take from the fleet's policies, behind one small function each: the labels clusters are
filtered by, the maintenance window a start must fit in, the approval production needs, and how long a cluster's
whole upgrade usually takes. The rules themselves live in their own homes (upgrades/selectors/labels.py,
upgrades/operations/windows.py, upgrades/services/approvals.py, upgrades/planning/estimates.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from django.db.models import QuerySet

from upgrades.errors import ObshellError
from upgrades.models import Cluster, Package, Server
from upgrades.models.cluster import TARGET_PACKAGE, Edition
from upgrades.operations.windows import WindowDecision, window_decision, windows_by_cluster
from upgrades.planning.estimates import expected_upgrade_seconds as planned_upgrade_seconds
from upgrades.planning.route import route_for
from upgrades.planning.versions import split_server_build
from upgrades.selectors.labels import LabelFilterError, filter_clusters_by_label
from upgrades.services.approvals import requires_approval

__all__ = [
    "LabelFilterError",
    "WindowDecision",
    "cluster_windows",
    "clusters_with_label",
    "expected_upgrade_seconds",
    "needs_approval",
    "start_window",
]


class Upgrade(Protocol):
    """A cluster's planned upgrade (a CampaignCluster row): the cluster, its target and mode."""

    cluster: Cluster
    cluster_id: int
    version: str
    release: str
    mode: str


def clusters_with_label(queryset: QuerySet[Cluster], label: str) -> QuerySet[Cluster]:
    """The clusters of `queryset` matching the label filter `label` ("env=prod"; LabelFilterError if unreadable)."""
    return filter_clusters_by_label(queryset, label)


def cluster_windows(cluster_ids: Iterable[int]) -> dict[int, list]:
    """{cluster id: its maintenance windows (its own and its labels')}, for start_window; three queries."""
    return windows_by_cluster(cluster_ids)


def start_window(
    cluster: Cluster, *, now: datetime, expected_seconds: float | None, windows: Sequence | None = None
) -> WindowDecision:
    """May the cluster's upgrade start now, given how long it usually takes (None: unknown, then only the window
    itself counts)? `windows` (from cluster_windows) spares the query."""
    return window_decision(cluster, now=now, expected_seconds=expected_seconds or 0.0, windows=windows)


def needs_approval(clusters: Sequence[Cluster]) -> bool:
    """Does a campaign over these clusters need a second person's approval (production clusters)?"""
    return bool(clusters) and bool(requires_approval(list(clusters)))


def expected_upgrade_seconds(upgrades: Iterable[Upgrade]) -> dict[int, float | None]:
    """{cluster id: the usual seconds of its whole upgrade (None when some stage has no history)}, by the ETA
    rule of upgrades/planning/estimates.py. Clusters of one shape (edition, mode, route length, servers per
    zone) share one estimate, so a fleet of look-alikes costs a few queries, not three per cluster."""
    upgrades = list(upgrades)
    builds: dict[int, str] = {}
    zone_sizes: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for cluster_id, zone_id, build in Server.objects.filter(
        cluster_id__in=[upgrade.cluster_id for upgrade in upgrades]
    ).values_list("cluster_id", "zone_id", "build_version"):
        zone_sizes[cluster_id][zone_id] += 1
        builds[cluster_id] = max(builds.get(cluster_id, ""), build)
    hops_of: dict[tuple, int] = {}
    estimates: dict[tuple, float | None] = {}
    answers: dict[int, float | None] = {}
    for upgrade in upgrades:
        cluster = upgrade.cluster
        route_key = (cluster.edition, builds.get(upgrade.cluster_id, ""), upgrade.version, upgrade.release)
        if route_key not in hops_of:
            hops_of[route_key] = _hops(*route_key)
        sizes = tuple(zone_sizes[upgrade.cluster_id].values())
        shape = (cluster.edition, upgrade.mode, hops_of[route_key], sizes, cluster.shared_storage)
        if shape not in estimates:
            estimates[shape] = (
                planned_upgrade_seconds(cluster=cluster, hops=hops_of[route_key], mode=upgrade.mode)
                if sizes and upgrade.mode
                else None
            )
        answers[upgrade.cluster_id] = estimates[shape]
    return answers


def _hops(edition: str, build_version: str, version: str, release: str) -> int:
    """The route's hop count from the cluster's build to the target (1 when the route cannot be read here: the
    plan at start time says why)."""
    current_version, current_build = split_server_build(build_version) if build_version else ("", "")
    dep_yaml = (
        Package.objects.filter(
            name=TARGET_PACKAGE.get(Edition(edition), ""), version=version, release_distribution=release
        )
        .exclude(upgrade_dep_yaml="")
        .values_list("upgrade_dep_yaml", flat=True)
        .first()
    )
    try:
        route = route_for(
            dep_yaml or "",
            current_version=current_version,
            current_build=current_build,
            target_version=version,
            target_build=release.split(".")[0],
        )
    except (ObshellError, ValueError, KeyError):
        return 1
    return max(len(route) - 1, 1)
