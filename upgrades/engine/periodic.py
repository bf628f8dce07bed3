"""Periodic jobs run by the workers, one runner at a time per job.

    from upgrades.engine import periodic
    periodic.register("topology-refresh", 300, refresh_topologies)

Every worker loop (embedded threads, `run_worker`, the in-process runner) calls `run_due()` a few times a
second. A job runs only in the worker that claims its PeriodicJobLease row with a conditional UPDATE: the
job is due (next_run_at has passed) and nobody holds a live lease on it. The claim moves next_run_at one
interval ahead, so however many workers there are, a job runs once per interval; a runner that dies
mid-job only delays the next run until its lease expires. A job that raises is logged (and its error kept
on the row); the worker carries on. Jobs must be idempotent: a job whose runner was killed is run again.

Register at import time of the module that owns the job (the engine registers the lease reaper and the
stale-worker cleanup in upgrades/engine/worker.py); the names are global across processes.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from upgrades.models import PeriodicJobLease
from upgrades.operations.metrics import PERIODIC_RUNS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    interval_seconds: float
    function: Callable[[], object]
    lease_seconds: float | None = None

    def lease(self) -> timedelta:
        """How long a claim holds: a job's own lease, else the longer of the worker lease and its interval."""
        seconds = self.lease_seconds or max(float(settings.WORKER_LEASE_SECONDS), self.interval_seconds)
        return timedelta(seconds=seconds)


_jobs: dict[str, PeriodicJob] = {}
_lock = threading.Lock()


def register(
    name: str, interval_seconds: float, function: Callable[[], object], *, lease_seconds: float | None = None
) -> PeriodicJob:
    """Register (or replace) the job `name`, run every `interval_seconds` by one worker at a time."""
    if not name or len(name) > 64:
        raise ValueError("a periodic job needs a name of 1 to 64 characters")
    if interval_seconds <= 0:
        raise ValueError("a periodic job needs a positive interval")
    job = PeriodicJob(name, float(interval_seconds), function, lease_seconds)
    with _lock:
        _jobs[name] = job
    return job


def unregister(name: str) -> None:
    with _lock:
        _jobs.pop(name, None)


def registered() -> list[PeriodicJob]:
    with _lock:
        return list(_jobs.values())


def run_due(*, owner: str, names: Collection[str] | None = None) -> dict[str, object]:
    """Claim and run, here, every registered job that is due; returns {job name: its result} for the jobs
    this call ran (one SELECT when none is due)."""
    jobs = [job for job in registered() if names is None or job.name in names]
    if not jobs:
        return {}
    now = timezone.now()
    rows = {row.name: row for row in PeriodicJobLease.objects.filter(name__in=[job.name for job in jobs])}
    missing = [PeriodicJobLease(name=job.name, next_run_at=now) for job in jobs if job.name not in rows]
    if missing:
        PeriodicJobLease.objects.bulk_create(missing, ignore_conflicts=True)
    results: dict[str, object] = {}
    for job in jobs:
        row = rows.get(job.name)
        if row is not None and (
            row.next_run_at > now or (row.lease_expires_at is not None and row.lease_expires_at >= now)
        ):
            continue
        if claim(job, owner=owner):
            results[job.name] = _run(job, owner=owner)
    return results


def claim(job: PeriodicJob, *, owner: str) -> bool:
    """The conditional UPDATE that makes `owner` the job's one runner for this interval."""
    now = timezone.now()
    return (
        PeriodicJobLease.objects.filter(name=job.name, next_run_at__lte=now)
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now))
        .update(
            holder=owner,
            lease_expires_at=now + job.lease(),
            last_started_at=now,
            next_run_at=now + timedelta(seconds=job.interval_seconds),
        )
        == 1
    )


def defer(name: str, seconds: float) -> None:
    """Let no worker run the job `name` for `seconds` from now (its next run moves there unless it is later
    already). Works for a job that has never run too: its row is made, due then."""
    until = timezone.now() + timedelta(seconds=seconds)
    PeriodicJobLease.objects.bulk_create([PeriodicJobLease(name=name, next_run_at=until)], ignore_conflicts=True)
    PeriodicJobLease.objects.filter(name=name, next_run_at__lt=until).update(next_run_at=until)


def _run(job: PeriodicJob, *, owner: str) -> object:
    error = ""
    result: object = None
    try:
        result = job.function()
    except Exception as exc:
        logger.exception("periodic job %s failed", job.name)
        error = f"{type(exc).__name__}: {exc}"[:1000]
    PERIODIC_RUNS.labels(job=job.name, outcome="error" if error else "ok").inc()
    PeriodicJobLease.objects.filter(name=job.name, holder=owner).update(
        holder="", lease_expires_at=None, last_finished_at=timezone.now(), last_error=error, runs=F("runs") + 1
    )
    return result
