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
# A database outage that reaches a step through its backend's own reads (the context's writes ride it out by
# themselves) re-runs the step from its start, if it has applied no effect yet, at most this many times.
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
    """The StepContext of one attempt. Log lines are buffered and written with the next heartbeat,
    effect or the attempt's end, so a zero-duration step costs a couple of transactions."""

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
        self.effects = 0
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
            time.sleep(duration)

    def effect(self, change: Callable[[], None]) -> None:
        """Apply a change to the cluster, only while this worker still owns the sub-task."""
        self.flush(change=change)

    def hang(self) -> None:
        self.flush()
        self._wait(None)

    def fault_point(self) -> None:
        fault = self.sub_task.context.get("fault")
        if not fault or self.phase != TaskLog.Phase.RUN:
            return
        kind = fault["kind"]
        if kind == Fault.Kind.FAIL:
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
    def flush(self, change: Callable[[], None] | None = None) -> None:
        self.check_deadline()
        lines, self.pending = self.pending, []
        # One transaction: retried whole through a database outage (the lease is renewed if still ours).
        ok = retry_database(
            lambda: t.subtask_heartbeat(
                sub_task=self.sub_task, owner=self.worker.owner, logs=lines, phase=self.phase, change=change
            ),
            what=f"sub-task {self.sub_task.pk} heartbeat",
            stop_event=self.worker.stop_event,
        )
        if not ok:
            raise LeaseLost()
        if change is not None:
            self.effects += 1
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


def execute(worker: Worker, sub_task: SubTask) -> SubTask | None:
    """Run a sub-task the worker has claimed, to SUCCEED or FAILED (or hand it back), then advance its DAG.
    Returns the next sub-task of the same DAG this worker claimed in the finishing transaction, or None."""
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
    contexts = [ctx]
    try:
        for rerun in range(OUTAGE_RERUNS + 1):
            try:
                if sub_task.rollback_pending and not rolling_back:
                    # A retry first undoes the failed attempt (spec 6.4, RETRY).
                    undo = RunContext(**attempt, phase=TaskLog.Phase.ROLLBACK)
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
                if rerun == OUTAGE_RERUNS or any(c.effects for c in contexts):
                    raise
                logger.warning("sub-task %s: database error inside the step (%s); re-running it", sub_task.pk, exc)
                if not ctx.still_mine():  # waits for the database to answer
                    raise LeaseLost() from exc
                carried = ctx.pending
                ctx = RunContext(**attempt, phase=phase)
                ctx.pending = carried
                contexts = [ctx]
                continue
            break
        return _finish_through_outage(worker, sub_task, succeeded=succeeded, ctx=ctx)
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
        return _finish_through_outage(worker, sub_task, succeeded=False, ctx=ctx)
    dag_advance(sub_task.dag_id)
    return None


def _finish_through_outage(worker: Worker, sub_task: SubTask, *, succeeded: bool, ctx: RunContext) -> SubTask | None:
    """`finish`, retried whole through a database outage: the attempt's outcome is recorded once it answers
    (a retry after a commit whose answer was lost finds the sub-task no longer ours and writes nothing)."""
    logs = ctx.pending
    return retry_database(
        lambda: finish(worker, sub_task, succeeded=succeeded, logs=logs, phase=ctx.phase),
        what=f"sub-task {sub_task.pk} finish",
        stop_event=worker.stop_event,
    )


def finish(
    worker: Worker, sub_task: SubTask, *, succeeded: bool, logs: Sequence[t.LogLine], phase: str
) -> SubTask | None:
    """End the attempt, advance its DAG and claim this worker's next sub-task of it, in one transaction (one
    commit per sub-task while a DAG has work)."""
    with transaction.atomic():
        dag = lock_dag(sub_task.dag_id)
        with batched_events(dag.pk):
            if not t.subtask_finish_locked(
                sub_task=sub_task, owner=worker.owner, succeeded=succeeded, logs=logs, phase=phase
            ):
                return None
            _observe_duration(sub_task)
            chaining = worker.chain and not worker.stopping
            # Another READY sub-task means the stage is not done: claim it and leave the DAG as it is.
            following = t.claim_next_locked(dag, owner=worker.owner) if chaining else None
            if following is None:
                advance_locked(dag)
                if chaining:
                    following = t.claim_next_locked(dag, owner=worker.owner)
            return following


def _observe_duration(sub_task: SubTask) -> None:
    if sub_task.start_time is not None and sub_task.end_time is not None:
        STEP_DURATION.labels(action=sub_task.node.action, state=sub_task.state).observe(
            max((sub_task.end_time - sub_task.start_time).total_seconds(), 0.0)
        )
