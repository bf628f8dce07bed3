"""One worker loop, shared by `manage.py run_worker` threads, the embedded threads and the in-process
runner: heartbeat its group's WorkerHeartbeat row, run the periodic jobs that are due (the lease reaper among
them), advance DAGs, claim a READY sub-task and run it. It loops immediately while there is work and backs
off briefly (10 ms doubling to 200 ms) when idle."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Collection
from typing import Literal, NoReturn

from upgrades.engine import periodic
from upgrades.engine import transitions as t
from upgrades.engine.executor import BATCH_SIZE, WorkerCrashed, execute_batch
from upgrades.engine.heartbeat import WorkerGroup, forget_stale_workers
from upgrades.engine.resilience import DATABASE_ERRORS, after_outage, backoff_max, reset_connections
from upgrades.engine.scheduler import advance_active_dags, dag_advance
from upgrades.models import Dag
from upgrades.notifications import jobs as notification_jobs
from upgrades.operations.logs import log_context
from upgrades.operations.metrics import LEASES_REAPED

logger = logging.getLogger(__name__)

REAP_EVERY = 0.5
# How often a worker looks whether a periodic job is due (one SELECT); the jobs' own intervals rule the rest.
PERIODIC_EVERY = 0.25
SCHEDULE_EVERY = 0.25
IDLE_MIN = 0.01
IDLE_MAX = 0.2


class Worker:
    """crash_mode: "process" (run_worker: an injected crash SIGKILLs the process) or "thread" (embedded
    and in-process: the thread abandons its lease and stops; the server keeps running)."""

    def __init__(
        self,
        *,
        name: str = "worker",
        dag_ids: Collection[int] | None = None,
        crash_mode: Literal["thread", "process"] = "thread",
        stop_event: threading.Event | None = None,
        chain: bool = True,
        group: WorkerGroup | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        # group: the heartbeat row this worker keeps fresh, shared by the threads of one process or profile;
        # a worker without one gets its own and removes it when run_forever() returns (stop()).
        self._owns_group = group is None
        self.group = group or WorkerGroup(kind="process", threads=1)
        self.owner = self.group.owner_for(name)
        self.dag_ids = dag_ids
        self.crash_mode = crash_mode
        self.stop_event = stop_event or threading.Event()
        self._last_periodic = 0.0
        self._last_schedule = 0.0
        self._frozen: dict[int, Dag] = {}
        # chain: claim the DAG's next sub-task in the transaction that finishes one (fewer commits);
        # without it a step runs exactly one sub-task, for callers that look at the DAG between steps.
        # batch_size: at most how many READY sub-tasks of one parallel node a chaining worker claims at once
        # while its steps take no time (1: one at a time).
        self.chain = chain
        # Whether this worker's last step took no time: then it claims a parallel node's sub-tasks in batches.
        self.last_step_fast = False
        self.batch_size = batch_size

    def batch_limit(self) -> int:
        """How many READY sub-tasks of one node to claim at once (see transitions.claim_batch_locked)."""
        return self.batch_size if self.chain and self.last_step_fast else 1

    def frozen_dag(self, dag_id: int) -> Dag:
        """The DAG with its frozen plan, cached: what steps read of it (plan, route, target, upgrade dir,
        creation time, cluster) never changes after creation."""
        dag = self._frozen.get(dag_id)
        if dag is None:
            if len(self._frozen) > 64:
                self._frozen.clear()
            dag = self._frozen[dag_id] = Dag.objects.select_related("cluster").get(pk=dag_id)
        return dag

    @property
    def stopping(self) -> bool:
        return self.stop_event.is_set()

    def crash(self) -> NoReturn:
        logger.warning("worker %s: injected crash", self.owner)
        if self.crash_mode == "process":
            os.kill(os.getpid(), signal.SIGKILL)
        raise WorkerCrashed(self.owner)

    def reap(self) -> bool:
        """Apply the continue rule to sub-tasks whose worker stopped heartbeating (this worker's DAGs)."""
        return reap_expired_leases(dag_ids=self.dag_ids) > 0

    def beat(self) -> None:
        """Keep the group's heartbeat row fresh (throttled to a third of a lease)."""
        self.group.beat()

    def run_periodic(self) -> bool:
        """Run the periodic jobs that are due and that this worker wins; True if one of them did something."""
        return any(bool(result) for result in periodic.run_due(owner=self.owner).values())

    def stop(self) -> None:
        """After the loop: a worker with its own heartbeat row removes it."""
        if self._owns_group:
            self.group.stop()

    def step(self) -> bool:
        """One round of work; True if anything happened. A sub-task's executor advances its own DAG when it
        ends, so the scheduler pass over all DAGs (new DAGs, operators, other workers' leftovers) runs only
        when there is nothing to claim, or at least every SCHEDULE_EVERY seconds."""
        now = time.monotonic()
        did = False
        self.beat()
        if now - self._last_periodic >= PERIODIC_EVERY:
            self._last_periodic = now
            did = self.run_periodic()
        if now - self._last_schedule >= SCHEDULE_EVERY:
            self._last_schedule = now
            did = advance_active_dags(self.dag_ids) or did
        if self.stopping:
            return did
        batch = t.subtask_claim(owner=self.owner, dag_ids=self.dag_ids, limit=self.batch_limit())
        if batch:
            while batch:
                # Every line logged while it runs names the DAG, node and (first) sub-task (LOG_FORMAT=json).
                first = batch[0]
                with log_context(worker=self.owner, dag_id=first.dag_id, node_id=first.node_id, sub_task_id=first.pk):
                    batch = execute_batch(self, batch)
            return True
        self._last_schedule = time.monotonic()
        return advance_active_dags(self.dag_ids) or did

    def run_forever(self) -> bool:
        try:
            return self._loop()
        finally:
            self.stop()

    def _loop(self) -> bool:
        idle = 0.0
        outage = 0.0  # > 0 while the database does not answer: the current backoff
        while not self.stopping:
            try:
                if outage:
                    after_outage()  # before anything else, so this worker's reaper cannot run first
                    logger.warning("worker %s: database reachable again; resuming", self.owner)
                    outage = 0.0
                did = self.step()
            except WorkerCrashed:
                return False
            except DATABASE_ERRORS as exc:
                # Connections cut or the server restarting: reconnect on the next try, backing off (resilience.py).
                if not outage:
                    logger.warning("worker %s: database unreachable (%s); backing off", self.owner, exc)
                reset_connections()
                outage = min(max(outage * 2, IDLE_MAX), backoff_max())
                self.stop_event.wait(outage)
                continue
            except Exception:
                # A database hiccup or a bad row must not kill the worker: log it, back off, carry on.
                logger.exception("worker %s: error in a worker step; backing off", self.owner)
                did = False
                idle = IDLE_MAX
            if did:
                idle = 0.0
                continue
            idle = min(max(idle * 2, IDLE_MIN), IDLE_MAX)
            self.stop_event.wait(idle)
        return True


def reap_expired_leases(*, dag_ids: Collection[int] | None = None) -> int:
    """Apply the continue rule to sub-tasks whose worker stopped heartbeating; returns how many were reaped."""
    reaped = 0
    for sub_task_id, owner, dag_id in t.expired_leases(dag_ids=dag_ids):
        if t.subtask_interrupt(sub_task_id=sub_task_id, owner=owner, expired_only=True) is not None:
            logger.warning("sub-task %s: lease of %s expired", sub_task_id, owner)
            LEASES_REAPED.inc()
            dag_advance(dag_id)
            reaped += 1
    return reaped


periodic.register("reap-expired-leases", REAP_EVERY, reap_expired_leases)
periodic.register("forget-stale-workers", 60, forget_stale_workers)
# Notifications (README: Notifications): queue deliveries of new events; sending runs in its own thread.
periodic.register("notifications", notification_jobs.INTERVAL_SECONDS, notification_jobs.notifications)
