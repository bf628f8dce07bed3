"""How long each step usually takes: per node action and cluster size, the median and p90 of the durations
of finished runs, for stall detection now and for ETAs and campaign windows later.

    usual_duration(action="upgrade_observer", servers=9)  -> UsualDuration(median, p90, samples, size_bucket)
    usual_durations([("stop_zone", 9), ...])              -> {(action, servers): UsualDuration | None}
    usual_durations_for_dag(dag_id)                       -> {node id: UsualDuration | None}

Reads come from StepDurationStat, a summary rebuilt by the `refresh-step-durations` periodic job
(upgrades/engine/stalls.py registers it) with refresh_step_durations(). Why a summary and not one aggregate
query per read: the run page, the stall check (every few seconds) and later ETAs read it often, and with
20,000 runs the samples are some 600,000 node rows; a read of the summary is one indexed lookup, while the
aggregate (a window over every finished node) costs a scan each time. The refresh bounds its own work and
memory: it reads the stages of the latest RECENT_RUNS finished runs only, and the database keeps the latest
SAMPLE_WINDOW samples of each (action, size bucket) with a window function, so Python sorts at most that many
numbers per group (the same code on PostgreSQL and SQLite). tests/benchmarks/test_bench_durations.py measures
both with 20,000 runs.

A sample is a node that SUCCEEDed by running (operator RUN or RETRY: a passed or rolled-back node did not do
its work) in a finished run, from its start to its end time (a retried node counts its last run only).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction
from django.db.models import (
    Case,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber
from django.utils import timezone

from upgrades.models import Dag, Node, StepDurationStat
from upgrades.models.dag import Operator, State
from upgrades.snapshots import iso_time

# Size buckets by their smallest server count: 1, 2-3, 4-9, 10-29, 30-99, 100-299, 300 and more. Wide enough to
# collect samples, narrow enough that a parallel stage's fan-out (and a zone's size) is comparable.
SIZE_BUCKETS = (1, 2, 4, 10, 30, 100, 300)
ALL_SIZES = 0
# The latest samples kept per (action, size bucket): recent runs say more about the fleet as it is now.
SAMPLE_WINDOW = 200
# Samples come from the latest finished runs only (by creation): the refresh reads their stages through the
# node table's (dag, seq) index instead of every stage ever run (a 20,000-run history is 600,000 stages).
RECENT_RUNS = 2000
# A bucket with fewer samples than this answers with the action over all sizes instead.
MIN_SAMPLES = 5
# obshell resets a node's times to the epoch until it (re)starts: such a start is no start.
_STARTED_AFTER = datetime(1971, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class UsualDuration:
    median_seconds: float
    p90_seconds: float
    samples: int
    # The bucket the figures come from (its smallest server count); ALL_SIZES (0) when the cluster's own
    # bucket had fewer than MIN_SAMPLES samples and every size was used.
    size_bucket: int

    def as_dict(self) -> dict[str, float | int]:
        return {
            "median_seconds": round(self.median_seconds, 3),
            "p90_seconds": round(self.p90_seconds, 3),
            "samples": self.samples,
            "size_bucket": self.size_bucket,
        }


def size_bucket(servers: int) -> int:
    """The bucket of a cluster of `servers` servers (its smallest server count); 0 when unknown."""
    bucket = ALL_SIZES
    for lower in SIZE_BUCKETS:
        if servers >= lower:
            bucket = lower
    return bucket


def usual_duration(*, action: str, servers: int) -> UsualDuration | None:
    """The usual duration of `action` on a cluster of `servers` servers; None when no finished run has one."""
    return usual_durations([(action, servers)])[(action, servers)]


def usual_durations(keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], UsualDuration | None]:
    """usual_duration() for many (action, servers) pairs with one query."""
    keys = list(dict.fromkeys(keys))
    if not keys:
        return {}
    actions = {action for action, _ in keys}
    rows = {
        (row.action, row.size_bucket): row
        for row in StepDurationStat.objects.filter(action__in=actions).only(
            "action", "size_bucket", "samples", "median_seconds", "p90_seconds"
        )
    }
    answers: dict[tuple[str, int], UsualDuration | None] = {}
    for action, servers in keys:
        row = rows.get((action, size_bucket(servers)))
        if row is None or row.samples < MIN_SAMPLES:
            row = rows.get((action, ALL_SIZES))
        answers[(action, servers)] = (
            None
            if row is None or row.samples == 0
            else UsualDuration(row.median_seconds, row.p90_seconds, row.samples, row.size_bucket)
        )
    return answers


def usual_durations_for_dag(dag_id: int) -> dict[int, UsualDuration | None]:
    """{node id: its usual duration} for every node of one DAG (two queries)."""
    nodes = list(Node.objects.filter(dag_id=dag_id).values_list("id", "action", "dag__server_count"))
    usual = usual_durations((action, servers) for _, action, servers in nodes)
    return {node_id: usual[(action, servers)] for node_id, action, servers in nodes}


def percentile(ordered: list[float], fraction: float) -> float:
    """Linear interpolation between the closest ranks (PostgreSQL's percentile_cont) of a sorted list."""
    if not ordered:
        raise ValueError("no samples")
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _bucket_expression() -> Case:
    whens = [When(dag__server_count__gte=lower, then=Value(lower)) for lower in reversed(SIZE_BUCKETS)]
    return Case(*whens, default=Value(ALL_SIZES), output_field=IntegerField())


def duration_samples():
    """(action, size bucket, seconds) of the latest SAMPLE_WINDOW samples of each (action, bucket), newest
    first; a run of unknown size has bucket 0 and counts only towards the action over all sizes."""
    nodes = (
        Node.objects.filter(
            dag_id__in=Subquery(Dag.objects.filter(is_finished=True).order_by("-id").values("id")[:RECENT_RUNS]),
            state=State.SUCCEED,
            operator__in=[Operator.RUN, Operator.RETRY],
            start_time__gt=_STARTED_AFTER,
            end_time__gte=F("start_time"),
        )
        .annotate(
            bucket=_bucket_expression(),
            took=ExpressionWrapper(F("end_time") - F("start_time"), output_field=DurationField()),
        )
        .annotate(recent=Window(RowNumber(), partition_by=[F("action"), F("bucket")], order_by=F("end_time").desc()))
        .filter(recent__lte=SAMPLE_WINDOW)
        .values_list("action", "bucket", "took")
    )
    for action, bucket, took in nodes.iterator(chunk_size=5000):
        yield action, bucket, max(took.total_seconds(), 0.0)


def refresh_step_durations() -> int:
    """Rebuild StepDurationStat from the finished runs; returns how many (action, bucket) rows it holds.
    Idempotent; replaces the table in one transaction, so a reader sees the old or the new figures."""
    groups: dict[tuple[str, int], list[float]] = defaultdict(list)
    for action, bucket, seconds in duration_samples():
        if bucket != ALL_SIZES:
            groups[(action, bucket)].append(seconds)
        groups[(action, ALL_SIZES)].append(seconds)
    now = timezone.now()
    rows = []
    for (action, bucket), values in groups.items():
        values.sort()
        rows.append(
            StepDurationStat(
                action=action,
                size_bucket=bucket,
                samples=len(values),
                median_seconds=percentile(values, 0.5),
                p90_seconds=percentile(values, 0.9),
                refreshed_at=now,
            )
        )
    with transaction.atomic():
        StepDurationStat.objects.all().delete()
        StepDurationStat.objects.bulk_create(rows)
    return len(rows)


def stalled_filter() -> Q:
    """Nodes not yet reported stalled in their current run (a report older than the start is a past run's)."""
    return Q(stalled_at__isnull=True) | Q(stalled_at__lt=F("start_time"))


def is_stalled(node: Node) -> bool:
    """Reported stalled in its current run and still running."""
    return node.state == State.RUNNING and node.stalled_at is not None and node.stalled_at >= node.start_time


def stall_payload(node: Node, *, servers: int, usual: UsualDuration | None, now: datetime) -> dict[str, object]:
    """The node.stalled event's payload (upgrades/engine/stalls.py), also the run snapshot's "stalls"."""
    return {
        "node_id": node.pk,
        "node_generic_id": node.generic_id,
        "node_name": node.name,
        "node_seq": node.seq,
        "action": node.action,
        "servers": servers,
        "started_at": iso_time(node.start_time),
        "running_seconds": round(max((now - node.start_time).total_seconds(), 0.0), 3),
        "usual_median_seconds": None if usual is None else round(usual.median_seconds, 3),
        "usual_p90_seconds": None if usual is None else round(usual.p90_seconds, 3),
        "usual_samples": 0 if usual is None else usual.samples,
        "usual_size_bucket": None if usual is None else usual.size_bucket,
    }


def current_stalls(nodes: Iterable[Node], *, servers: int) -> list[dict[str, object]]:
    """The stall payloads of those nodes (one DAG's) that are stalled now, figures as of now."""
    stalled = [node for node in nodes if is_stalled(node)]
    if not stalled:
        return []
    usual = usual_durations((node.action, servers) for node in stalled)
    now = timezone.now()
    return [stall_payload(node, servers=servers, usual=usual[(node.action, servers)], now=now) for node in stalled]
