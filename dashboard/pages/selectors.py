"""Reads for the pages. Views stay thin: they parse the request, call these, and render."""

from collections.abc import Iterable
from typing import Any

from django.db.models import Count, Q

from upgrades.models import Cluster, Dag, PackageSync, Server
from upgrades.models.dag import State


def run_counters() -> dict[str, int]:
    """The top bar's counters: runs in progress, and failed runs still holding a cluster (awaiting an operator)."""
    # A failed run holding its lock is unfinished too (dag_fail): both counts read the unfinished runs only.
    counts = Dag.objects.filter(is_finished=False).aggregate(
        running=Count("id", filter=Q(is_finished=False, state__in=[State.READY, State.RUNNING, State.PENDING])),
        failed=Count("id", filter=Q(state=State.FAILED, holds_lock=True)),
    )
    return {"running": counts["running"], "failed": counts["failed"]}


def build_label(build_version: str) -> str:
    """A server build in obshell's VERSION-RELEASE form: 4.2.1.0_100000102023092807 -> 4.2.1.0-100000102023092807."""
    return build_version.replace("_", "-", 1)


def build_summary(servers: Iterable[Server]) -> list[dict[str, Any]]:
    """The distinct builds running on these servers, most common first, with how many servers run each."""
    return builds_summary(server.build_version for server in servers)


def builds_summary(builds: Iterable[str]) -> list[dict[str, Any]]:
    """build_summary() of servers' build_version values."""
    counts: dict[str, int] = {}
    for build in builds:
        counts[build] = counts.get(build, 0) + 1
    return [
        {"build": build_label(build), "servers": n}
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
