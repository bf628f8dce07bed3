"""Retention: compact the events and task logs of long-finished runs into one compressed archive each.

    runs_prune(finished_before_days=90)  # manage.py prune --finished-before 90; the optional periodic job

What is pruned: a run that succeeded (an upgrade that finished, was rolled back or passed) and ended before
the cutoff; its DagEvent and TaskLog rows move into a RunArchive (upgrades/operations/archive.py) that the run
page, the live replay and the API read as they read the rows. A failed run is kept as it is, however old:
obshell lets an operator retry, roll back or pass any failed DAG, and a run that can change again keeps its
rows. Runs, stages, sub-tasks and audit entries are never pruned.

Each run is archived in its own transaction under the DAG row lock (the lock every writer takes first), which
re-checks that the run is still prunable and not yet archived: safe while workers run, idempotent (a second
prune finds nothing to do, a prune killed half-way lost nothing), one audit entry (the system actor) per run
archived, in the same transaction. Memory is bounded by one run's compressed archive: rows are read in chunks
and compressed as they come.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from upgrades.audit import Actor, audit
from upgrades.dag_locks import lock_dag
from upgrades.engine import periodic
from upgrades.models import AuditEntry, Dag, DagEvent, RunArchive, TaskLog
from upgrades.models.dag import State
from upgrades.operations.archive import pack_run

logger = logging.getLogger(__name__)

BATCH = 200
JOB_NAME = "prune-finished-runs"
JOB_EVERY = 3600.0
# One run of the periodic job stops after this long and carries on at its next interval.
JOB_BUDGET_SECONDS = 300.0


@dataclass
class PruneSummary:
    cutoff: datetime = field(default_factory=timezone.now)
    runs: int = 0
    events: int = 0
    log_lines: int = 0
    raw_bytes: int = 0
    stored_bytes: int = 0
    dag_ids: list[int] = field(default_factory=list)
    complete: bool = True

    def as_text(self) -> str:
        ratio = f", {self.raw_bytes / 1e6:.1f} MB into {self.stored_bytes / 1e6:.2f} MB" if self.runs else ""
        more = "" if self.complete else "; more remain (time budget reached)"
        return (
            f"pruned {self.runs} run{'s' if self.runs != 1 else ''} finished before {self.cutoff:%Y-%m-%d %H:%M} UTC: "
            f"{self.events} events and {self.log_lines} log lines archived{ratio}{more}"
        )


def prunable_runs(*, cutoff: datetime) -> QuerySet[Dag]:
    """The runs a prune with this cutoff archives, oldest first."""
    return Dag.objects.filter(is_finished=True, state=State.SUCCEED, end_time__lt=cutoff, archive__isnull=True)


def runs_prune(
    *, finished_before_days: float, actor: Actor | None = None, budget_seconds: float | None = None
) -> PruneSummary:
    """Archive every prunable run that finished more than `finished_before_days` days ago."""
    if finished_before_days < 0:
        raise ValueError("finished_before_days must not be negative")
    actor = actor or Actor.system()
    summary = PruneSummary(cutoff=timezone.now() - timedelta(days=finished_before_days))
    started = time.monotonic()
    after_id = 0
    while True:
        ids = list(
            prunable_runs(cutoff=summary.cutoff)
            .filter(pk__gt=after_id)
            .order_by("pk")
            .values_list("pk", flat=True)[:BATCH]
        )
        if not ids:
            return summary
        for dag_id in ids:
            if budget_seconds is not None and time.monotonic() - started > budget_seconds:
                summary.complete = False
                return summary
            run_prune(dag_id=dag_id, cutoff=summary.cutoff, actor=actor, summary=summary)
        after_id = ids[-1]


def run_prune(*, dag_id: int, cutoff: datetime, actor: Actor, summary: PruneSummary | None = None) -> RunArchive | None:
    """Archive one run, if it is still prunable under the lock; returns its archive, or None."""
    with transaction.atomic():
        dag = lock_dag(dag_id)
        if dag is None or not prunable_runs(cutoff=cutoff).filter(pk=dag_id).exists():
            return None
        packed = pack_run(dag_id)
        record = RunArchive.objects.create(
            dag_id=dag_id,
            last_seq=packed.last_seq,
            event_count=packed.event_count,
            log_count=packed.log_count,
            raw_bytes=packed.raw_bytes,
            events=packed.events,
            logs=packed.logs,
        )
        DagEvent.objects.filter(dag_id=dag_id).delete()
        TaskLog.objects.filter(sub_task__dag_id=dag_id).delete()
        stored = len(packed.events) + len(packed.logs)
        audit(
            actor=actor,
            action=AuditEntry.Action.RUN_PRUNE,
            cluster=dag.cluster,
            dag=dag,
            reason=f"finished before {cutoff:%Y-%m-%d %H:%M} UTC",
            detail={
                "dag": dag.generic_id,
                "events": packed.event_count,
                "log_lines": packed.log_count,
                "raw_bytes": packed.raw_bytes,
                "stored_bytes": stored,
            },
        )
    if summary is not None:
        summary.runs += 1
        summary.events += packed.event_count
        summary.log_lines += packed.log_count
        summary.raw_bytes += packed.raw_bytes
        summary.stored_bytes += stored
        summary.dag_ids.append(dag_id)
    return record


def prune_job() -> int:
    """The periodic job: prune with RETENTION_DAYS, within a time budget; returns how many runs it archived."""
    days = settings.RETENTION_DAYS
    if days is None:
        return 0
    summary = runs_prune(finished_before_days=days, budget_seconds=JOB_BUDGET_SECONDS)
    if summary.runs:
        logger.info("retention: %s", summary.as_text())
    return summary.runs


def register_retention_job() -> None:
    """Register the retention job when RETENTION_DAYS is set (unset: no automatic pruning)."""
    if settings.RETENTION_DAYS is not None:
        periodic.register(JOB_NAME, JOB_EVERY, prune_job)


register_retention_job()
