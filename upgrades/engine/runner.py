"""Running the engine in the calling thread (tests, benchmarks, `upgrade --wait`)."""

from __future__ import annotations

import time

from upgrades.engine.executor import WorkerCrashed
from upgrades.engine.heartbeat import WorkerGroup
from upgrades.engine.transitions import ACTIVE_DAG_STATES, FINISHED
from upgrades.engine.worker import IDLE_MAX, IDLE_MIN, Worker
from upgrades.models import Dag

LOOK_EVERY = 0.25


def run_dag_to_end(dag_id: int, *, timeout: float = 30) -> Dag:
    """Run that DAG's work here until it is SUCCEED or FAILED; returns the DAG. An injected crash only
    abandons the lease (a new in-process worker carries on and the reaper picks the sub-task up)."""
    deadline = time.monotonic() + timeout
    group = WorkerGroup(kind="process")
    try:
        return _run_dag(dag_id, group=group, deadline=deadline, timeout=timeout)
    finally:
        group.stop()


def _run_dag(dag_id: int, *, group: WorkerGroup, deadline: float, timeout: float) -> Dag:
    worker = Worker(name="runner", dag_ids=[dag_id], group=group)
    idle = 0.0
    did = False
    last_look = 0.0
    while True:
        # While work flows, look at the DAG only now and then; after an idle step, always.
        if not did or time.monotonic() - last_look > LOOK_EVERY:
            last_look = time.monotonic()
            dag = Dag.objects.get(pk=dag_id)
            if dag.state in FINISHED:
                return dag
            if time.monotonic() > deadline:
                raise TimeoutError(f"DAG {dag_id} is still {dag.state} at stage {dag.stage} after {timeout}s")
        try:
            did = worker.step()
        except WorkerCrashed:
            worker = Worker(name="runner", dag_ids=[dag_id], group=group)
            did = True
        if did:
            idle = 0.0
            continue
        idle = min(max(idle * 2, IDLE_MIN), IDLE_MAX)
        time.sleep(idle)


def run_pending_work(*, timeout: float = 30) -> int:
    """Run every DAG's work here until no DAG is READY or RUNNING; returns how many rounds did work."""
    deadline = time.monotonic() + timeout
    group = WorkerGroup(kind="process")
    try:
        return _run_pending(group=group, deadline=deadline, timeout=timeout)
    finally:
        group.stop()


def _run_pending(*, group: WorkerGroup, deadline: float, timeout: float) -> int:
    worker = Worker(name="runner", group=group)
    rounds = 0
    idle = 0.0
    while Dag.objects.filter(state__in=ACTIVE_DAG_STATES).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"work still pending after {timeout}s")
        try:
            did = worker.step()
        except WorkerCrashed:
            worker = Worker(name="runner", group=group)
            did = True
        if did:
            rounds += 1
            idle = 0.0
            continue
        idle = min(max(idle * 2, IDLE_MIN), IDLE_MAX)
        time.sleep(idle)
    return rounds
