"""Reads for the pages. Views stay thin: they parse the request, call these, and render."""

from collections.abc import Iterable
from typing import Any

from django.db.models import Count, Max, Prefetch, Q

from upgrades.models import Cluster, Dag, PackageSync, Server
from upgrades.models.dag import State


def run_counters() -> dict[str, int]:
    """The top bar's counters: runs in progress, and failed runs still holding a cluster (awaiting an operator)."""
    counts = Dag.objects.aggregate(
        running=Count("id", filter=Q(is_finished=False, state__in=[State.READY, State.RUNNING, State.PENDING])),
        failed=Count("id", filter=Q(state=State.FAILED, holds_lock=True)),
    )
    return {"running": counts["running"], "failed": counts["failed"]}


def servers_prefetch() -> Prefetch:
    return Prefetch("servers", queryset=Server.objects.select_related("zone").order_by("zone__position", "id"))


def _build_label(build_version: str) -> str:
    """A server build in obshell's VERSION-RELEASE form: 4.2.1.0_100000102023092807 -> 4.2.1.0-100000102023092807."""
    return build_version.replace("_", "-", 1)


def cluster_rows() -> list[dict[str, Any]]:
    """Every cluster with what the fleet view shows: topology size, builds, maintenance and last run."""
    clusters = list(
        Cluster.objects.annotate(zone_count=Count("zones", distinct=True), last_dag_id=Max("dags__id"))
        .prefetch_related(servers_prefetch())
        .order_by("name")
    )
    holding = {d.cluster_id: d for d in Dag.objects.filter(holds_lock=True)}
    last = Dag.objects.in_bulk([c.last_dag_id for c in clusters if c.last_dag_id])
    rows = []
    for cluster in clusters:
        servers = list(cluster.servers.all())
        rows.append(
            {
                "cluster": cluster,
                "zones": cluster.zone_count,
                "servers": len(servers),
                "builds": build_summary(servers),
                "holding": holding.get(cluster.pk),
                "last": last.get(cluster.last_dag_id),
                "inactive": sum(1 for s in servers if s.status != Server.Status.ACTIVE),
            }
        )
    return rows


def build_summary(servers: Iterable[Server]) -> list[dict[str, Any]]:
    """The distinct builds running on these servers, most common first, with how many servers run each."""
    counts: dict[str, int] = {}
    for server in servers:
        counts[server.build_version] = counts.get(server.build_version, 0) + 1
    return [
        {"build": _build_label(build), "servers": n}
        for build, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def recent_package_syncs(cluster: Cluster) -> list[PackageSync]:
    """A real cluster's latest package pushes, newest first, as its page shows them."""
    return list(cluster.package_syncs.select_related("package")[:8])


def cluster_page(cluster: Cluster) -> dict[str, Any]:
    """A cluster's topology (zones with their servers), builds, maintenance holder and recent runs."""
    zones = list(cluster.zones.prefetch_related("servers").order_by("position", "name"))
    servers = [server for zone in zones for server in zone.servers.all()]
    return {
        "cluster": cluster,
        "zones": zones,
        "server_count": len(servers),
        "builds": build_summary(servers),
        "holding": Dag.objects.filter(cluster=cluster, holds_lock=True).first(),
        "recent_runs": list(Dag.objects.filter(cluster=cluster).order_by("-created_at", "-id")[:10]),
    }
