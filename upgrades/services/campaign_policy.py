"""What campaigns take from the fleet's policies, behind one small function each: the labels clusters are
filtered by, the maintenance window a start must fit in, the approval production needs, and how long a cluster's
whole upgrade usually takes. The rules themselves live in their own homes (upgrades/services/labels.py,
upgrades/operations/windows.py, upgrades/services/approvals.py, upgrades/operations/durations.py)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db.models import Count, QuerySet

from upgrades.models import Cluster, Dag, Node
from upgrades.models.dag import State
from upgrades.operations.durations import size_bucket, usual_durations
from upgrades.operations.windows import WindowDecision, window_decision
from upgrades.services.approvals import requires_approval
from upgrades.services.labels import filter_clusters_by_label

# How many recent finished upgrades of a size bucket are looked at for the stages an upgrade of that size runs.
RECENT_UPGRADES = 20

__all__ = [
    "WindowDecision",
    "clusters_with_label",
    "expected_upgrade_seconds",
    "needs_approval",
    "start_window",
]


def clusters_with_label(queryset: QuerySet[Cluster], label: str) -> QuerySet[Cluster]:
    """The clusters of `queryset` that carry `label` ("env=prod")."""
    return filter_clusters_by_label(queryset, label)


def start_window(cluster: Cluster, *, now: datetime, expected_seconds: float | None) -> WindowDecision:
    """May the cluster's upgrade start now, given how long it usually takes (0 when unknown)?"""
    return window_decision(cluster, now=now, expected_seconds=expected_seconds or 0.0)


def needs_approval(clusters: Sequence[Cluster]) -> bool:
    """Does a campaign over these clusters need a second person's approval (production clusters)?"""
    return bool(clusters) and bool(requires_approval(list(clusters)))


def expected_upgrade_seconds(clusters: Iterable[Cluster]) -> dict[int, float | None]:
    """{cluster id: the usual seconds of its whole upgrade, None when no history says}: the stages of the latest
    finished upgrade of a cluster of its size, each at its usual (median) duration (upgrades/operations/durations)."""
    sizes = _server_counts(clusters)
    buckets = {size_bucket(servers) for servers in sizes.values()}
    stage_actions = _recent_stage_actions(buckets)
    keys = [(action, servers) for servers in set(sizes.values()) for action in stage_actions.get(size_bucket(servers), ())]
    usual = usual_durations(keys)
    answers: dict[int, float | None] = {}
    for cluster_id, servers in sizes.items():
        actions = stage_actions.get(size_bucket(servers))
        figures = [usual[(action, servers)] for action in actions or ()]
        if not figures or any(figure is None for figure in figures):
            answers[cluster_id] = None
        else:
            answers[cluster_id] = sum(figure.median_seconds for figure in figures if figure is not None)
    return answers


def _server_counts(clusters: Iterable[Cluster]) -> dict[int, int]:
    ids = [cluster.pk for cluster in clusters]
    counts = dict(
        Cluster.objects.filter(pk__in=ids).annotate(n=Count("servers")).values_list("pk", "n")
    )
    return {cluster_id: counts.get(cluster_id, 0) for cluster_id in ids}


def _recent_stage_actions(buckets: set[int]) -> dict[int, list[str]]:
    """{size bucket: the stage actions, in order, of the latest succeeded upgrade run of that size}."""
    if not buckets:
        return {}
    runs: dict[int, int] = {}
    recent = (
        Dag.objects.filter(kind=Dag.Kind.UPGRADE, is_finished=True, state=State.SUCCEED)
        .order_by("-id")
        .values_list("id", "server_count")[: RECENT_UPGRADES * max(len(buckets), 1)]
    )
    for dag_id, servers in recent:
        runs.setdefault(size_bucket(servers), dag_id)
    actions: dict[Any, list[str]] = defaultdict(list)
    by_dag = {dag_id: bucket for bucket, dag_id in runs.items() if bucket in buckets}
    for dag_id, action in Node.objects.filter(dag_id__in=list(by_dag)).order_by("dag_id", "seq").values_list(
        "dag_id", "action"
    ):
        actions[by_dag[dag_id]].append(action)
    return dict(actions)
