"""Benchmark (make bench): the engine's own overhead, with SIMULATION_SPEED=0 (zero step durations).

* A 3-zone community rolling upgrade (30 stages) on SQLite with the embedded worker threads, against
  obshell's scheduler, which advances one stage per 1 s poll (so >= 30 s for 30 stages); and against the
  same DAG driven by a single in-process runner measured in this run.
* The demo upgrade at SIMULATION_SPEED=1000 and 1 against the step time it simulates.
* Creating the DAG for a 3-zone x 100-server cluster (bulk_create), against planning alone (the part of
  upgrade_start that creates nothing), and its zero-duration upgrade on PostgreSQL with 4 worker threads
  (skipped with a printed reason without PostgreSQL).

Figures are printed; nothing here asserts on timing.
"""

import os
import threading
import time
from unittest import mock

import pytest
from django.db import connection, connections

from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from tests.support.waiting import wait_until
from upgrades.engine import embedded
from upgrades.engine.runner import run_dag_to_end
from upgrades.engine.worker import Worker
from upgrades.models import Dag, SubTask
from upgrades.models.dag import State
from upgrades.planning.plan import plan_upgrade

OBSHELL_POLL_SECONDS = 1.0


def wait_finished(dag_id, timeout):
    """The DAG's final state, polled every 5 ms (the figure's resolution)."""

    def finished():
        state = Dag.objects.filter(pk=dag_id).values_list("state", flat=True).get()
        return state if state in (State.SUCCEED, State.FAILED) else None

    return wait_until(finished, timeout=timeout, interval=0.005, what=f"DAG {dag_id} to finish")


def report(title, seconds, baseline_title, baseline_seconds):
    ratio = baseline_seconds / seconds if seconds else float("inf")
    print(f"\n{title}: {seconds:.3f}s; {baseline_title}: {baseline_seconds:.3f}s; ratio {ratio:.1f}x")


@pytest.mark.django_db(transaction=True)
def test_zero_duration_rolling_upgrade_with_embedded_workers(settings):
    settings.EMBEDDED_WORKER = True
    settings.SIMULATION_SPEED = 0
    cluster = make_cluster(zones=3, servers_per_zone=1)
    stock_packages(TARGET)

    # In-process runner, same DAG shape, as a same-run reference.
    runner_dag = start_upgrade(cluster, TARGET)
    began = time.perf_counter()
    assert run_dag_to_end(runner_dag.pk, timeout=120).state == State.SUCCEED
    runner_seconds = time.perf_counter() - began
    Dag.objects.filter(pk=runner_dag.pk).delete()
    cluster.servers.update(build_version="4.2.1.0_100000102023092807")

    state, seconds = _timed_embedded_upgrade(cluster)
    assert state == State.SUCCEED
    stages = runner_dag.max_stage
    print(
        f"\n{stages}-stage zero-duration rolling upgrade, embedded workers ({settings.EMBEDDED_WORKER_THREADS} threads, "
        f"{connection.vendor}): {seconds:.3f}s"
    )
    report("embedded workers", seconds, f"obshell 1 s poll x {stages} stages", OBSHELL_POLL_SECONDS * stages)
    report("embedded workers", seconds, "single in-process runner", runner_seconds)

    # The share of the live push (upgrades.live.publish, run on commit for every event) in that figure.
    Dag.objects.all().delete()
    cluster.servers.update(build_version="4.2.1.0_100000102023092807")
    with mock.patch("upgrades.events._publish", lambda message: None):
        quiet_state, quiet_seconds = _timed_embedded_upgrade(cluster)
    assert quiet_state == State.SUCCEED
    report("embedded workers without live publishing", quiet_seconds, "with live publishing", seconds)


def _timed_embedded_upgrade(cluster):
    embedded.run_embedded_workers()
    try:
        began = time.perf_counter()
        dag = start_upgrade(cluster, TARGET)
        state = wait_finished(dag.pk, timeout=300)
        return state, time.perf_counter() - began
    finally:
        embedded.stop_embedded_workers()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("speed", [1000, 1])
def test_demo_rolling_upgrade_at_simulation_speed(settings, speed):
    """The demo cluster's upgrade (3 zones x 1 server, 30 stages) with the default embedded workers: at
    speed 1 it should take 45 to 90 s, at 1000 under 1 s. Baseline: the simulated step time the engine
    was asked to wait (every step's durations at speed 1, divided by the speed)."""
    from upgrades.engine import executor

    settings.EMBEDDED_WORKER = True
    settings.SIMULATION_SPEED = speed
    cluster = make_cluster(zones=3, servers_per_zone=1)
    stock_packages(TARGET)
    requested = []
    original = executor.RunContext.sleep

    def recording_sleep(ctx, seconds):
        requested.append(seconds)
        return original(ctx, seconds)

    executor.RunContext.sleep = recording_sleep
    try:
        state, seconds = _timed_embedded_upgrade(cluster)
    finally:
        executor.RunContext.sleep = original
    assert state == State.SUCCEED
    asked = sum(requested) / speed
    print(
        f"\ndemo rolling upgrade at SIMULATION_SPEED={speed}, {settings.EMBEDDED_WORKER_THREADS} embedded threads: "
        f"{seconds:.2f}s wall"
    )
    report(f"speed {speed} wall", seconds, "sum of all simulated step durations / speed", asked)


@pytest.mark.django_db(transaction=True)
def test_large_cluster_dag_creation_and_upgrade(settings):
    settings.SIMULATION_SPEED = 0
    cluster = make_cluster(zones=3, servers_per_zone=100)
    stock_packages(TARGET)

    began = time.perf_counter()
    plan_upgrade(cluster=cluster, version="4.3.0.1", release="101000062023110109.el7", mode="ROLLING")
    planning_seconds = time.perf_counter() - began

    began = time.perf_counter()
    dag = start_upgrade(cluster, TARGET)
    create_seconds = time.perf_counter() - began
    sub_tasks = SubTask.objects.filter(dag=dag).count()
    print(
        f"\nDAG for 3 zones x 100 servers: {dag.max_stage} nodes, {sub_tasks} sub-tasks created in "
        f"{create_seconds:.3f}s (upgrade_start, planning included)"
    )
    report("upgrade_start", create_seconds, "plan_upgrade alone", planning_seconds)

    if connection.vendor != "postgresql":
        print(
            "zero-duration upgrade of 300 servers with 4 worker threads: skipped, needs PostgreSQL "
            "(DATABASE_URL=postgres://...)"
        )
        return
    # Baseline in the same run: the same upgrade with every sub-task claimed, finished and advanced on its
    # own (batch_size=1, the engine before batching), on a second cluster of the same shape.
    other = make_cluster(zones=3, servers_per_zone=100, name="bench-unbatched")
    baseline_dag = start_upgrade(other, TARGET)
    seconds = _upgrade_with_threads(dag, threads=4)
    print(f"zero-duration upgrade of 300 servers, 4 worker threads on PostgreSQL, batched: {seconds:.2f}s")
    baseline_seconds = _upgrade_with_threads(baseline_dag, threads=4, batch_size=1)
    per_sub_task = seconds / sub_tasks
    baseline_per_sub_task = baseline_seconds / sub_tasks
    print(
        f"zero-duration upgrade of 300 servers ({sub_tasks} sub-tasks), 4 worker threads on PostgreSQL: "
        f"{seconds:.2f}s (target < 15 s); engine overhead {per_sub_task * 1000:.2f} ms per sub-task (target < 4 ms)"
    )
    report("4 threads", seconds, "each sub-task claimed, finished and advanced alone (batch_size=1)", baseline_seconds)
    print(
        f"per sub-task: {per_sub_task * 1000:.2f} ms batched; {baseline_per_sub_task * 1000:.2f} ms one at a time; "
        f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    report("4 threads", seconds, f"obshell 1 s poll x {dag.max_stage} stages", OBSHELL_POLL_SECONDS * dag.max_stage)


def _upgrade_with_threads(dag, *, threads, batch_size=None):
    """Run the DAG with `threads` worker threads of this process; returns the wall time to its end."""
    stop = threading.Event()
    extra = {} if batch_size is None else {"batch_size": batch_size}
    workers = [Worker(name=f"bench{i}", stop_event=stop, dag_ids=[dag.pk], **extra) for i in range(threads)]

    def run(worker):
        try:
            worker.run_forever()
        finally:
            connections.close_all()

    runners = [threading.Thread(target=run, args=(w,)) for w in workers]
    began = time.perf_counter()
    for thread in runners:
        thread.start()
    try:
        state = wait_finished(dag.pk, timeout=1800)
    finally:
        stop.set()
        for thread in runners:
            thread.join()
    assert state == State.SUCCEED
    return time.perf_counter() - began
