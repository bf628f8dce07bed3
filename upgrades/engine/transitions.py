"""The engine's guarded state transitions for sub-tasks. Each is one transaction that locks the DAG row
first (upgrades.dag_locks: the same lock order everywhere, so workers, the scheduler and operators never
deadlock), checks its guard, appends DagEvents through upgrades.events and publishes on commit."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from upgrades.dag_locks import lock_dag, lock_dag_row, uses_row_locks
from upgrades.events import emit_events, emit_sub_task, sub_task_event
from upgrades.models import Node, SubTask, TaskLog
from upgrades.models.dag import State
from upgrades.task_logs import INTERRUPTED_LINE, write_logs

if TYPE_CHECKING:
    from upgrades.models import Dag

# A log line as the engine buffers it: (TaskLog.Level, text).
LogLine = tuple[str, str]

ACTIVE_DAG_STATES = (State.READY, State.RUNNING)
FINISHED = (State.SUCCEED, State.FAILED)


def lease_seconds() -> float:
    return float(settings.WORKER_LEASE_SECONDS)


def subtask_claim(*, owner: str, dag_ids: Collection[int] | None = None) -> SubTask | None:
    """Claim one READY sub-task for `owner` and mark it RUNNING with a lease; None when there is none.

    PostgreSQL: skip DAG rows other workers hold and lock the sub-task with SKIP LOCKED. SQLite: a
    conditional UPDATE ... WHERE state=READY; exactly one claimer sees a row count of 1.
    """
    # A mirrored DAG's sub-tasks run on its agent: the engine never claims them.
    ready = SubTask.objects.filter(state=State.READY, dag__state__in=ACTIVE_DAG_STATES, dag__remote_dag_id="")
    if dag_ids is not None:
        ready = ready.filter(dag_id__in=dag_ids)
    if uses_row_locks():
        if dag_ids is not None and len(dag_ids) == 1:
            dag_candidates = list(dag_ids)
        else:
            dag_candidates = list(ready.order_by("dag_id").values_list("dag_id", flat=True).distinct()[:16])
        for dag_id in dag_candidates:
            with transaction.atomic():
                # Wait for the DAG lock (held only for short writes) rather than skip it and go idle.
                claimed = claim_next_locked(lock_dag(dag_id), owner=owner)
                if claimed is not None:
                    return claimed
        return None
    for sub_task in ready.select_related("dag", "node", "server").order_by("id")[:4]:
        # The guarded UPDATE is the claim: a sub-task cancelled, passed or claimed meanwhile is not READY.
        with transaction.atomic():
            claimed = _mark_running(sub_task, sub_task.dag, owner, guarded=True)
            if claimed is not None:
                return claimed
    return None


def claim_next_locked(dag: Dag | None, *, owner: str) -> SubTask | None:
    """Claim the next READY sub-task of a DAG whose row lock this transaction holds (None if none)."""
    if dag is None or dag.state not in ACTIVE_DAG_STATES:
        return None
    ready = SubTask.objects.filter(dag_id=dag.pk, state=State.READY)
    if uses_row_locks():
        ready = ready.select_for_update(skip_locked=True, of=("self",))
    sub_task = ready.select_related("node", "server").order_by("id").first()
    if sub_task is None:
        return None
    return _mark_running(sub_task, dag, owner, guarded=True)


def _mark_running(sub_task: SubTask, dag: Dag, owner: str, *, guarded: bool = False) -> SubTask | None:
    now = timezone.now()
    continuing = bool(sub_task.context.get("continue"))
    fields = {
        "state": State.RUNNING,
        "lease_owner": owner,
        "lease_expires_at": now + timedelta(seconds=lease_seconds()),
    }
    if not continuing or sub_task.deadline_at is None:
        fields["start_time"] = now
        fields["deadline_at"] = now + timedelta(seconds=dag.timeout_seconds)
    updated = SubTask.objects.filter(pk=sub_task.pk, state=State.READY, execute_times=sub_task.execute_times).update(
        **fields
    )
    if updated != 1:
        if guarded:
            return None
        raise RuntimeError(f"sub-task {sub_task.pk} changed while locked")
    for name, value in fields.items():
        setattr(sub_task, name, value)
    emit_sub_task(sub_task)
    return sub_task


def subtask_heartbeat(
    *,
    sub_task: SubTask,
    owner: str,
    logs: Sequence[LogLine] = (),
    phase: str = TaskLog.Phase.RUN,
    change: Callable[[], None] | None = None,
) -> bool:
    """Renew the lease, write pending log lines and apply `change()` (a step's effect on the cluster), all
    only if the sub-task is still RUNNING under this owner. Returns False when the lease is lost
    (cancelled, reaped or taken over); nothing is written then."""
    with transaction.atomic():
        lock_dag_row(sub_task.dag_id)
        expires = timezone.now() + timedelta(seconds=lease_seconds())
        updated = SubTask.objects.filter(pk=sub_task.pk, state=State.RUNNING, lease_owner=owner).update(
            lease_expires_at=expires
        )
        if updated != 1:
            return False
        sub_task.lease_expires_at = expires
        emit_events(sub_task.dag_id, write_logs(sub_task, logs, phase=phase))
        if change is not None:
            change()
    return True


def subtask_still_mine(*, sub_task: SubTask, owner: str) -> bool:
    """A cheap lock-free read: is the sub-task still RUNNING under this owner (not cancelled, not reaped)?"""
    return SubTask.objects.filter(pk=sub_task.pk, state=State.RUNNING, lease_owner=owner).exists()


def subtask_finish_locked(
    *, sub_task: SubTask, owner: str, succeeded: bool, logs: Sequence[LogLine] = (), phase: str = TaskLog.Phase.RUN
) -> bool:
    """End the attempt SUCCEED or FAILED, in a transaction holding the DAG lock; False (and nothing written)
    if the lease was lost meanwhile."""
    state = State.SUCCEED if succeeded else State.FAILED
    now = timezone.now()
    fields = {"state": state, "end_time": now, "lease_owner": "", "lease_expires_at": None}
    if succeeded:
        fields["rollback_pending"] = False
    updated = SubTask.objects.filter(pk=sub_task.pk, state=State.RUNNING, lease_owner=owner).update(**fields)
    if updated != 1:
        return False
    for name, value in fields.items():
        setattr(sub_task, name, value)
    emit_events(sub_task.dag_id, [*write_logs(sub_task, logs, phase=phase), sub_task_event(sub_task)])
    return True


def subtask_interrupt(
    *,
    sub_task_id: int,
    owner: str,
    logs: Sequence[LogLine] = (),
    phase: str = TaskLog.Phase.RUN,
    expired_only: bool = False,
) -> str | None:
    """obshell's rule for a sub-task whose executor went away while it ran (an agent restart): if its node
    can continue it is re-entered (READY again, same execute_times, continue flag set); otherwise it is
    FAILED with `task unexpectedly interrupted and cannot continue`. Returns the new state or None."""
    with transaction.atomic():
        sub_task = SubTask.objects.filter(pk=sub_task_id).first()
        if sub_task is None:
            return None
        lock_dag_row(sub_task.dag_id)
        sub_task.refresh_from_db()
        if sub_task.state != State.RUNNING or sub_task.lease_owner != owner:
            return None
        if expired_only and (sub_task.lease_expires_at is None or sub_task.lease_expires_at >= timezone.now()):
            return None
        node = Node.objects.only("can_continue").get(pk=sub_task.node_id)
        events = write_logs(sub_task, logs, phase=phase)
        if node.can_continue:
            sub_task.state = State.READY
            sub_task.context = {**sub_task.context, "continue": True}
            events += write_logs(
                sub_task, [(TaskLog.Level.WARN, f"executor {owner} stopped while running; continuing")]
            )
        else:
            sub_task.state = State.FAILED
            sub_task.end_time = timezone.now()
            events += write_logs(sub_task, [(TaskLog.Level.INFO, INTERRUPTED_LINE)])
        sub_task.lease_owner = ""
        sub_task.lease_expires_at = None
        sub_task.save(update_fields=["state", "context", "end_time", "lease_owner", "lease_expires_at"])
        emit_events(sub_task.dag_id, [*events, sub_task_event(sub_task)])
        return sub_task.state


def subtask_mark_fault_fired(*, sub_task: SubTask, owner: str) -> Callable[[], None]:
    """Record that this attempt's injected hang/crash fired, so a re-entered attempt does not fire it again."""

    def change() -> None:
        fault = {**sub_task.context.get("fault", {}), "fired": True}
        sub_task.context = {**sub_task.context, "fault": fault}
        SubTask.objects.filter(pk=sub_task.pk).update(context=sub_task.context)

    return change


def subtask_clear_rollback_pending(*, sub_task: SubTask) -> Callable[[], None]:
    def change() -> None:
        sub_task.rollback_pending = False
        SubTask.objects.filter(pk=sub_task.pk).update(rollback_pending=False)

    return change


def expired_leases(*, dag_ids: Collection[int] | None = None, limit: int = 50) -> list[tuple[int, str, int]]:
    qs = SubTask.objects.filter(state=State.RUNNING, lease_expires_at__lt=timezone.now())
    if dag_ids is not None:
        qs = qs.filter(dag_id__in=dag_ids)
    return list(qs.order_by("lease_expires_at").values_list("id", "lease_owner", "dag_id")[:limit])
