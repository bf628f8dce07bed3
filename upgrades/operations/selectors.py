"""Worker heartbeats and periodic-job leases as the /workers/ page shows them, and the staleness rule the
engine shares (a worker is stale after 3 x WORKER_LEASE_SECONDS without a beat)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from upgrades.models import PeriodicJobLease, SubTask, WorkerHeartbeat
from upgrades.models.dag import State

STALE_AFTER_LEASES = 3
# Stale rows are deleted (by the engine's periodic job) this many leases after their last beat.
FORGET_AFTER_LEASES = 20


def stale_after() -> timedelta:
    return timedelta(seconds=STALE_AFTER_LEASES * float(settings.WORKER_LEASE_SECONDS))


def forget_after() -> timedelta:
    return timedelta(seconds=FORGET_AFTER_LEASES * float(settings.WORKER_LEASE_SECONDS))


def group_ident(lease_owner: str) -> str:
    """The heartbeat ident a lease owner belongs to: owners are `<ident>:<worker name>:<nonce>`."""
    return lease_owner.rsplit(":", 2)[0]


@dataclass
class WorkerRow:
    heartbeat: WorkerHeartbeat
    age_seconds: float
    stale: bool
    holds: list[SubTask] = field(default_factory=list)


def worker_rows(*, now: datetime | None = None) -> list[WorkerRow]:
    """Every heartbeat row, its age and staleness, and the sub-tasks its workers hold now (from the leases)."""
    now = now or timezone.now()
    held: dict[str, list[SubTask]] = defaultdict(list)
    running = (
        SubTask.objects.filter(state=State.RUNNING)
        .exclude(lease_owner="")
        .select_related("dag", "node", "server")
        .order_by("dag_id", "id")
    )
    for sub_task in running:
        held[group_ident(sub_task.lease_owner)].append(sub_task)
    threshold = stale_after()
    rows = []
    for heartbeat in WorkerHeartbeat.objects.all():
        age = now - heartbeat.last_beat_at
        rows.append(
            WorkerRow(
                heartbeat=heartbeat,
                age_seconds=max(age.total_seconds(), 0.0),
                stale=age > threshold,
                holds=held.get(heartbeat.ident, []),
            )
        )
    return rows


def periodic_job_rows() -> list[PeriodicJobLease]:
    return list(PeriodicJobLease.objects.all())
