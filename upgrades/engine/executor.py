"""Running one claimed sub-task: the StepContext a backend works through, heartbeats, cancellation,
timeouts, injected faults and the attempt's outcome."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypedDict

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from upgrades.backends import StepFailed, backend_for
from upgrades.dag_locks import lock_dag
from upgrades.engine import transitions as t
from upgrades.engine.resilience import DATABASE_ERRORS, DatabaseWaitAbandoned, retry_database
from upgrades.engine.scheduler import advance_locked, dag_advance
from upgrades.events import batched_events
from upgrades.models import Fault, TaskLog
from upgrades.models.dag import Operator
from upgrades.operations.metrics import STEP_DURATION
from upgrades.task_logs import TIMEOUT_LINE

if TYPE_CHECKING:
    from upgrades.backends import ExecutionBackend
    from upgrades.engine.worker import Worker
    from upgrades.models import Dag, Node, Server, SubTask

logger = logging.getLogger(__name__)

WAIT_SLICE = 0.05  # how often a sleeping step looks at its stop flag and deadline
CHECK_INTERVAL = 0.2  # how often it checks it still owns the sub-task (cancel, reaper)
LIVE_SLEEP = 0.1  # shorter simulated waits neither publish pending lines nor check for cancellation
# A database error inside a step that has written no effect yet re-runs the step (at most this many times).
OUTAGE_RERUNS = 3


class LeaseLost(Exception):
    """The sub-task is no longer ours (cancelled, reaped or otherwise taken): stop without writing."""


class SubTaskTimedOut(Exception):
    pass


class WorkerStopping(Exception):
    """The worker was asked to stop (SIGTERM, server shutdown): hand the sub-task back."""


class WorkerCrashed(BaseException):
    """An injected crash in a thread worker: the thread dies without releasing its lease."""


class _Attempt(TypedDict):
    """What every RunContext of one attempt shares (all but the phase)."""

    worker: Worker
    backend: ExecutionBackend
    dag: Dag
    node: Node
    sub_task: SubTask
    server: Server | None


class RunContext:
    """The StepContext of one attempt. Log lines and effects are buffered and written with the next
    heartbeat (a wait, a fault point) or with the attempt's end: a zero-duration step writes nothing until it
    ends, so a batch of them finishes in one transaction. No time passes between a deferred effect and its
    write: any positive sleep writes the effects first."""

    def __init__(
        self,
        *,
        worker: Worker,
        backend: ExecutionBackend,
        dag: Dag,
        node: Node,
        sub_task: SubTask,
        server: Server | None,
        phase: str,
    ) -> None:
        self.worker = worker
        self.backend = backend
        self.dag = dag
        self.node = node
        self.sub_task = sub_task
        self.server = server
        self.phase = phase
        self.continuing = bool(sub_task.context.get("continue"))
        self.pending: list[t.LogLine] = []
        self.effects: list[Callable[[], None]] = []
        # Set by execute_batch while other claimed sub-tasks wait behind this one: called before the first
        # write, which means the step takes time (see execute_batch).
        self.before_first_flush: Callable[[], None] | None = None
        self.wrote_effects = False  # a flush applied an effect: a database error can no longer re-run the step
        self._last_check = time.monotonic()
        self._last_beat = time.monotonic()

    # The StepContext interface used by backends.
    def log(self, text: str, level: str = TaskLog.Level.INFO) -> None:
        self.pending.append((level, text))

    def sleep(self, seconds: float) -> None:
        speed = float(settings.SIMULATION_SPEED)
        duration = 0.0 if speed <= 0 else seconds / speed
        if duration >= LIVE_SLEEP:
            # Long enough to be watched: make the lines so far visible, then wait interruptibly.
            self.flush()
            self._wait(duration)
        elif duration > 0:
            if self.effects:
                self.flush(dissolve=False)
            time.sleep(duration)

    def effect(self, change: Callable[[], None]) -> None:
        """Apply a change to the cluster, only while this worker still owns the sub-task: with the next write
        of this attempt (a wait, a fault point, its end), under the same ownership check."""
        self.effects.append(change)

    def hang(self) -> None:
        self.flush()
        self._wait(None)

    def fault_point(self) -> None:
        fault = self.sub_task.context.get("fault")
        if not fault:
            return
        kind = fault["kind"]
        # A fail_rollback fault fires only while the node is rolled back; every other kind only while it runs.
        if (kind == Fault.Kind.FAIL_ROLLBACK) != (self.phase == TaskLog.Phase.ROLLBACK):
            return
        if kind in (Fault.Kind.FAIL, Fault.Kind.FAIL_ROLLBACK):
            raise StepFailed(*self.backend.injected_failure(self))
        if fault.get("fired"):
            return
        self.flush(change=t.subtask_mark_fault_fired(sub_task=self.sub_task, owner=self.worker.owner))
        if kind == Fault.Kind.HANG:
            self.log("waiting for a response that does not come", TaskLog.Level.WARN)
            self.hang()
        elif kind == Fault.Kind.CRASH:
            self.worker.crash()

    # Engine side.
    def flush(self, change: Callable[[], None] | None = None, *, dissolve: bool = True) -> None:
        if dissolve and self.before_first_flush is not None:
            hook, self.before_first_flush = self.before_first_flush, None
            hook()
        self.check_deadline()
        lines, self.pending = self.pending, []
        changes, self.effects = self.effects, []
        if change is not None:
            changes.append(change)
        combined = _all(changes) if changes else None
        # One transaction: retried whole through a database outage (the lease is renewed if still ours).
        ok = retry_database(
            lambda: t.subtask_heartbeat(
                sub_task=self.sub_task, owner=self.worker.owner, logs=lines, phase=self.phase, change=combined
            ),
            what=f"sub-task {self.sub_task.pk} heartbeat",
            stop_event=self.worker.stop_event,
        )
        if not ok:
            raise LeaseLost()
        if combined is not None:
            self.wrote_effects = True
        self._last_beat = self._last_check = time.monotonic()
        # A long step keeps its worker group's heartbeat fresh too (the loop does not turn meanwhile); that
        # row is for the /workers/ page only, so a database error here waits for the next beat.
        with contextlib.suppress(*DATABASE_ERRORS):
            self.worker.beat()

    def still_mine(self) -> bool:
        return retry_database(
            lambda: t.subtask_still_mine(sub_task=self.sub_task, owner=self.worker.owner),
            what=f"sub-task {self.sub_task.pk} ownership check",
            stop_event=self.worker.stop_event,
        )

    def check_deadline(self) -> None:
        deadline = self.sub_task.deadline_at
        if deadline is not None and timezone.now() >= deadline:
            raise SubTaskTimedOut()

    def _wait(self, duration: float | None) -> None:
        end = None if duration is None else time.monotonic() + duration
        beat_every = max(t.lease_seconds() / 3, WAIT_SLICE)
        while True:
            if self.worker.stopping:
                raise WorkerStopping()
            self.check_deadline()
            now = time.monotonic()
            if now - self._last_beat >= beat_every:
                self.flush()
            elif now - self._last_check >= CHECK_INTERVAL:
                if not self.still_mine():
                    raise LeaseLost()
                self._last_check = now
            if end is not None and now >= end:
                return
            time.sleep(WAIT_SLICE if end is None else max(0.0, min(WAIT_SLICE, end - now)))


def _all(changes: Sequence[Callable[[], None]]) -> Callable[[], None]:
    def apply() -> None:
        for change in changes:
            change()

    return apply


# A step that ended this fast lets its worker claim the next ones of a parallel node in a batch.
FAST_STEP = 0.02
BATCH_SIZE = 25
# A batch is finished and its unstarted rest handed back once it has run this long (or a tenth of a lease).
BATCH_MAX_SECONDS = 0.5


def execute_batch(worker: Worker, batch: Sequence[SubTask]) -> list[SubTask]:
    """Run sub-tasks the worker has claimed together (one, or several of one parallel node: see
    transitions.claim_batch_locked), one after the other, each to SUCCEED or FAILED (or hand it back);
    then finish them and advance their DAG in one transaction. Returns the sub-tasks of the same DAG this
    worker claimed in that transaction (empty when none).

    A batch is for steps that take no time. When one turns out to take time (its first write: a wait, a
    fault point), when the batch has run BATCH_MAX_SECONDS, or when the worker is stopping, the finished
    ones are written and the ones not started are handed back to READY, so other workers take them and no
    claimed sub-task waits behind a slow one."""
    done: list[t.Outcome] = []
    waiting = list(batch)
    began = time.monotonic()

    def settle() -> None:
        """Write what is done and hand back what is not started (the batch goes on as a single)."""
        outcomes, done[:] = list(done), []
        unstarted, waiting[:] = list(waiting), []
        if outcomes or unstarted:
            _finish_through_outage(worker, outcomes, release=unstarted, chain=False)

    # Waiting members hold leases they do not renew: a batch ends well within one.
    budget = min(BATCH_MAX_SECONDS, t.lease_seconds() / 10)
    while waiting:
        sub_task = waiting.pop(0)
        if sub_task is not batch[0] and (worker.stopping or time.monotonic() - began > budget):
            waiting.insert(0, sub_task)
            settle()
            break
        started = time.monotonic()
        outcome = _run_attempt(worker, sub_task, settle if waiting or done else None)
        worker.last_step_fast = time.monotonic() - started < FAST_STEP
        if outcome is not None:
            done.append(outcome)
    if done:
        return _finish_through_outage(worker, done)
    retry_database(lambda: dag_advance(batch[0].dag_id), what="advancing a DAG", stop_event=worker.stop_event)
    return []


def _finish_through_outage(worker: Worker, outcomes: Sequence[t.Outcome], **kw: object) -> list[SubTask]:
    """`finish_batch`, retried whole through a database outage: the outcomes are recorded once it answers (a
    retry after a commit whose answer was lost finds the sub-tasks no longer ours and writes nothing)."""
    return retry_database(
        lambda: finish_batch(worker, outcomes, **kw),  # type: ignore[arg-type]
        what=f"finishing {len(outcomes)} sub-task(s)",
        stop_event=worker.stop_event,
    )


def _run_attempt(worker: Worker, sub_task: SubTask, settle: Callable[[], None] | None) -> t.Outcome | None:
    """Run one claimed sub-task's step; its outcome, or None when nothing is left to write (lease lost, or
    handed back because the worker is stopping)."""
    # The claim loaded the node and server; the DAG's frozen part (plan, route, versions) never changes.
    node = sub_task.node
    server = sub_task.server
    dag = worker.frozen_dag(sub_task.dag_id)
    backend = backend_for(dag.cluster)
    rolling_back = sub_task.operator == Operator.ROLLBACK
    phase = TaskLog.Phase.ROLLBACK if rolling_back else TaskLog.Phase.RUN
    attempt: _Attempt = {
        "worker": worker,
        "backend": backend,
        "dag": dag,
        "node": node,
        "sub_task": sub_task,
        "server": server,
    }
    ctx = RunContext(**attempt, phase=phase)
    ctx.before_first_flush = settle
    contexts = [ctx]
    try:
        for rerun in range(OUTAGE_RERUNS + 1):
            try:
                if sub_task.rollback_pending and not rolling_back:
                    # A retry first undoes the failed attempt (spec 6.4, RETRY).
                    undo = RunContext(**attempt, phase=TaskLog.Phase.ROLLBACK)
                    undo.before_first_flush = ctx.before_first_flush
                    ctx = undo
                    contexts.append(undo)
                    backend.rollback(undo)
                    undo.flush(change=t.subtask_clear_rollback_pending(sub_task=sub_task))
                    ctx = RunContext(**attempt, phase=phase)
                    contexts.append(ctx)
                if rolling_back:
                    backend.rollback(ctx)
                else:
                    backend.run(ctx)
                ctx.check_deadline()
                succeeded = True
            except StepFailed as exc:
                ctx.log(exc.line, TaskLog.Level.ERROR)
                succeeded = False
            except SubTaskTimedOut:
                ctx.log(TIMEOUT_LINE)
                succeeded = False
            except DATABASE_ERRORS as exc:
                # The backend's own reads met a database outage. A step that has applied no effect yet is run
                # again once the database answers; one that has cannot be, and fails below as unexpected.
                if rerun == OUTAGE_RERUNS or any(c.wrote_effects for c in contexts):
                    raise
                logger.warning("sub-task %s: database error inside the step (%s); re-running it", sub_task.pk, exc)
                if not ctx.still_mine():  # waits for the database to answer
                    raise LeaseLost() from exc
                carried, hook = ctx.pending, ctx.before_first_flush
                ctx = RunContext(**attempt, phase=phase)
                ctx.pending, ctx.before_first_flush = carried, hook
                contexts = [ctx]
                continue
            break
        return t.Outcome(sub_task, succeeded, ctx.pending, ctx.phase, ctx.effects)
    except LeaseLost:
        logger.info("sub-task %s: lease lost (cancelled or reaped); stopping", sub_task.pk)
    except DatabaseWaitAbandoned:
        # Stopping while the database is away: nothing can be written; the lease runs out and the reaper
        # applies the continue rule, as after a crash.
        logger.warning("sub-task %s: worker stopping while the database is unreachable", sub_task.pk)
        return None
    except WorkerStopping:
        t.subtask_interrupt(sub_task_id=sub_task.pk, owner=worker.owner, logs=ctx.pending, phase=ctx.phase)
    except WorkerCrashed:
        raise
    except Exception as exc:
        logger.exception("sub-task %s failed unexpectedly", sub_task.pk)
        ctx.log(f"[Common.Unexpected]: {exc}", TaskLog.Level.ERROR)
        return t.Outcome(sub_task, False, ctx.pending, ctx.phase, ctx.effects)
    return None


def finish_batch(
    worker: Worker,
    outcomes: Sequence[t.Outcome],
    *,
    release: Sequence[SubTask] = (),
    chain: bool = True,
) -> list[SubTask]:
    """End the attempts, hand back `release` (claimed, never started), advance their DAG and claim this
    worker's next sub-tasks of it, in one transaction (one commit per batch while a DAG has work)."""
    dag_id = (outcomes[0].sub_task if outcomes else release[0]).dag_id
    with transaction.atomic():
        dag = lock_dag(dag_id)
        with batched_events(dag_id):
            for sub_task in t.subtasks_finish_locked(outcomes=outcomes, owner=worker.owner):
                _observe_duration(sub_task)
            if release:
                t.subtasks_release_locked(sub_tasks=release, owner=worker.owner)
            # Advancing a node that still has unfinished sub-tasks is one read; then claim what is READY.
            advance_locked(dag)
            if chain and worker.chain and not worker.stopping:
                return t.claim_batch_locked(dag, owner=worker.owner, limit=worker.batch_limit())
            return []


def _observe_duration(sub_task: SubTask) -> None:
    if sub_task.start_time is not None and sub_task.end_time is not None:
        STEP_DURATION.labels(action=sub_task.node.action, state=sub_task.state).observe(
            max((sub_task.end_time - sub_task.start_time).total_seconds(), 0.0)
        )
