"""The engine's guarded state transitions for sub-tasks. Each is one transaction that locks the DAG row
first (upgrades.dag_locks: the same lock order everywhere, so workers, the scheduler and operators never
deadlock), checks its guard, appends DagEvents through upgrades.events and publishes on commit."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from upgrades.dag_locks import lock_dag, lock_dag_row, uses_row_locks
from upgrades.events import emit_events, emit_sub_task, sub_task_event
from upgrades.models import Node, SubTask, TaskLog
from upgrades.models.dag import State
from upgrades.task_logs import INTERRUPTED_LINE, write_logs, write_logs_many

if TYPE_CHECKING:
    from upgrades.models import Dag

# A log line as the engine buffers it: (TaskLog.Level, text).
LogLine = tuple[str, str]

ACTIVE_DAG_STATES = (State.READY, State.RUNNING)
FINISHED = (State.SUCCEED, State.FAILED)


def lease_seconds() -> float:
    return float(settings.WORKER_LEASE_SECONDS)


def subtask_claim(*, owner: str, dag_ids: Collection[int] | None = None, limit: int = 1) -> list[SubTask]:
    """Claim READY sub-tasks for `owner` and mark them RUNNING with a lease: one, or up to `limit` of one
    parallel node together (claim_batch_locked); an empty list when there is none.

    PostgreSQL: skip DAG rows other workers hold and lock the sub-tasks with SKIP LOCKED. SQLite: a
    conditional UPDATE ... WHERE state=READY in a write transaction (IMMEDIATE: one writer at a time).
    """
    # A mirrored DAG's sub-tasks run on its agent: the engine never claims them.
    ready = SubTask.objects.filter(state=State.READY, dag__state__in=ACTIVE_DAG_STATES, dag__remote_dag_id="")
    if dag_ids is not None:
        ready = ready.filter(dag_id__in=dag_ids)
    if dag_ids is not None and len(dag_ids) == 1:
        dag_candidates = list(dag_ids)
    else:
        dag_candidates = list(ready.order_by("dag_id").values_list("dag_id", flat=True).distinct()[:16])
    for dag_id in dag_candidates:
        with transaction.atomic():
            # Wait for the DAG lock (held only for short writes) rather than skip it and go idle.
            claimed = claim_batch_locked(lock_dag(dag_id), owner=owner, limit=limit)
            if claimed:
                return claimed
    return []


def _batchable(sub_task: SubTask) -> bool:
    """A sub-task that may join a batch: a plain first attempt, with no injected fault (hang, crash), no
    continue flag and no pending undo, whose only writes are its outcome and the effects it defers."""
    return not sub_task.context and not sub_task.rollback_pending


def claim_batch_locked(dag: Dag | None, *, owner: str, limit: int = 1) -> list[SubTask]:
    """Claim the next READY sub-task of a DAG whose row lock this transaction holds, and with it up to
    `limit` - 1 more READY sub-tasks of the same node when all of them are plain (_batchable): one UPDATE
    and one event insert for the batch. The worker runs them one after the other, finishes them in one
    transaction, and hands back those it did not start as soon as one step turns out to take time."""
    if dag is None or dag.state not in ACTIVE_DAG_STATES:
        return []
    ready = SubTask.objects.filter(dag_id=dag.pk, state=State.READY)
    if uses_row_locks():
        ready = ready.select_for_update(skip_locked=True, of=("self",))
    candidates = list(ready.select_related("node", "server").order_by("id")[: max(limit, 1)])
    if not candidates:
        return []
    first = candidates[0]
    if len(candidates) == 1 or not _batchable(first):
        claimed = _mark_running(first, dag, owner, guarded=True)
        return [claimed] if claimed is not None else []
    batch = [sub_task for sub_task in candidates if sub_task.node_id == first.node_id and _batchable(sub_task)]
    return _mark_running_many(batch, dag, owner)


_BEFORE_CLAIM = "_before_claim"


def _mark_running_many(batch: list[SubTask], dag: Dag, owner: str) -> list[SubTask]:
    now = timezone.now()
    fields = {
        "state": State.RUNNING,
        "lease_owner": owner,
        "lease_expires_at": now + timedelta(seconds=lease_seconds()),
        "start_time": now,
        "deadline_at": now + timedelta(seconds=dag.timeout_seconds),
    }
    ids = [sub_task.pk for sub_task in batch]
    updated = SubTask.objects.filter(pk__in=ids, state=State.READY).update(**fields)
    if updated != len(ids):
        # Only under a lock that did not exclude a concurrent writer: keep what this UPDATE took.
        mine = set(
            SubTask.objects.filter(pk__in=ids, state=State.RUNNING, lease_owner=owner).values_list("id", flat=True)
        )
        batch = [sub_task for sub_task in batch if sub_task.pk in mine]
    for sub_task in batch:
        # What a hand-back (subtasks_release_locked) restores.
        vars(sub_task)[_BEFORE_CLAIM] = (sub_task.start_time, sub_task.deadline_at)
        for name, value in fields.items():
            setattr(sub_task, name, value)
    emit_events(dag.pk, [sub_task_event(sub_task) for sub_task in batch])
    return batch


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


class Outcome(NamedTuple):
    """How one attempt ended, as the executor hands it to subtasks_finish_locked."""

    sub_task: SubTask
    succeeded: bool
    logs: Sequence[LogLine]
    phase: str
    # The step's effects on the cluster it deferred (RunContext.effect), applied only if still owned.
    effects: Sequence[Callable[[], None]] = ()


def subtasks_finish_locked(*, outcomes: Sequence[Outcome], owner: str) -> list[SubTask]:
    """subtask_finish_locked for several attempts of one DAG at once, in a transaction holding its lock:
    the ones still RUNNING under `owner` get their deferred effects, their outcome (one UPDATE per outcome
    kind), their log lines (one INSERT) and their events; returns those sub-tasks."""
    if len(outcomes) == 1:
        outcome = outcomes[0]
        if not subtask_finish_locked(
            sub_task=outcome.sub_task,
            owner=owner,
            succeeded=outcome.succeeded,
            logs=outcome.logs,
            phase=outcome.phase,
        ):
            return []
        for change in outcome.effects:
            change()
        return [outcome.sub_task]
    if not outcomes:
        return []
    ids = [outcome.sub_task.pk for outcome in outcomes]
    mine = set(SubTask.objects.filter(pk__in=ids, state=State.RUNNING, lease_owner=owner).values_list("id", flat=True))
    owned = [outcome for outcome in outcomes if outcome.sub_task.pk in mine]
    now = timezone.now()
    for succeeded in (True, False):
        group = [outcome.sub_task for outcome in owned if outcome.succeeded is succeeded]
        if not group:
            continue
        fields: dict[str, Any] = {
            "state": State.SUCCEED if succeeded else State.FAILED,
            "end_time": now,
            "lease_owner": "",
            "lease_expires_at": None,
        }
        if succeeded:
            fields["rollback_pending"] = False
        SubTask.objects.filter(pk__in=[sub_task.pk for sub_task in group]).update(**fields)
        for sub_task in group:
            for name, value in fields.items():
                setattr(sub_task, name, value)
    for outcome in owned:
        for change in outcome.effects:
            change()
    logged = write_logs_many([(outcome.sub_task, outcome.logs, outcome.phase) for outcome in owned])
    events: list[tuple[str, dict[str, Any]]] = []
    for outcome, log_events in zip(owned, logged, strict=True):
        events += [*log_events, sub_task_event(outcome.sub_task)]
    if owned:
        emit_events(owned[0].sub_task.dag_id, events)
    return [outcome.sub_task for outcome in owned]


def subtasks_release_locked(*, sub_tasks: Sequence[SubTask], owner: str) -> None:
    """Hand claimed sub-tasks this worker never started back to READY (a batch whose steps take time, or a
    stopping worker), as they were before the claim; in a transaction holding the DAG lock."""
    released = []
    for sub_task in sub_tasks:
        start_time, deadline_at = vars(sub_task).get(_BEFORE_CLAIM, (sub_task.start_time, None))
        fields = {
            "state": State.READY,
            "lease_owner": "",
            "lease_expires_at": None,
            "start_time": start_time,
            "deadline_at": deadline_at,
        }
        if SubTask.objects.filter(pk=sub_task.pk, state=State.RUNNING, lease_owner=owner).update(**fields) == 1:
            for name, value in fields.items():
                setattr(sub_task, name, value)
            released.append(sub_task)
    if released:
        emit_events(released[0].dag_id, [sub_task_event(sub_task) for sub_task in released])


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
