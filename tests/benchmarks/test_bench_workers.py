"""Benchmark (make bench): the scale-out profile's throughput, on PostgreSQL with real `manage.py run_worker`
processes and SIMULATION_SPEED=0. Reported without thresholds:

* zero-duration upgrades per minute with 1, 2 and 4 worker processes (one thread each), each figure with its
  ratio to the 1-process figure measured in the same run;
* the latency of their events through Redis while they run (REDIS_URL): every DAG is watched by a websocket
  of this process (the pub/sub layer: worker process -> Redis -> this process's subscriber -> socket),
  measured from the event's `at` (stamped in the worker's transaction, before its commit) to the frame's
  arrival; baseline: a bare group_send -> receive round trip through the same layer;
* a worker process's resident memory after 100 upgrades against after 10.

Skipped with a printed reason without PostgreSQL (DATABASE_URL=postgres://...). Figures are printed;
nothing here asserts on timing. The machine's load average is printed beside them: on a shared machine
compare the ratios, not the absolute figures.
"""

import asyncio
import contextlib
import datetime
import os
import signal
import subprocess
import sys
import time

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import connection

from tests.benchmarks.test_bench_live import describe, layer_round_trips, percentile
from tests.live.helpers import dag_communicator, logged_in_headers
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import START_BUILD, make_cluster
from tests.support.live_server import child_environment
from tests.support.packages import stock_packages
from tests.support.paths import PROJECT_ROOT
from tests.support.waiting import wait_until
from upgrades.models import Dag, Server, WorkerHeartbeat
from upgrades.models.dag import State

pytestmark = pytest.mark.django_db(transaction=True)

CLUSTERS = 12  # upgrades per throughput figure (3 zones x 1 server each, 30 stages)
PROCESS_COUNTS = (1, 2, 4)
RSS_FIRST, RSS_LAST = 10, 100


def load():
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def needs_postgres():
    if connection.vendor != "postgresql":
        print("\n[bench workers] skipped: needs PostgreSQL (DATABASE_URL=postgres://...)")
        return True
    return False


def spawn_workers(count, *, threads=1):
    environment = {
        **os.environ,
        **child_environment(SIMULATION_SPEED=0, EMBEDDED_WORKER=0, LOG_LEVEL="WARNING"),
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "manage.py", "run_worker", "--threads", str(threads)],
            cwd=PROJECT_ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(count)
    ]
    # Timed from when every process has registered (Django's start-up is not the engine's cost).
    wait_until(lambda: WorkerHeartbeat.objects.count() >= count, timeout=120, what=f"{count} workers to start")
    return processes


def stop_workers(processes):
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    WorkerHeartbeat.objects.all().delete()


def reset(clusters):
    """Back to the start build, so the same clusters can be upgraded again."""
    Server.objects.filter(cluster__in=clusters).update(build_version=START_BUILD.build_version)


def all_finished(dag_ids):
    states = Dag.objects.filter(pk__in=dag_ids).values_list("state", flat=True)
    return all(state in (State.SUCCEED, State.FAILED) for state in states)


def clusters_and_packages():
    stock_packages(TARGET)
    return [make_cluster(zones=3, servers_per_zone=1) for _ in range(CLUSTERS)]


async def watch(dag_ids, headers, latencies, stop):
    """One socket per DAG; records now - event.at for every event frame until `stop` is set."""
    communicators = [dag_communicator(dag_id, headers) for dag_id in dag_ids]
    for communicator in communicators:
        await communicator.connect(timeout=30)
        await communicator.receive_json_from(timeout=30)  # snapshot

    async def drain(communicator):
        while True:
            frame = await communicator.receive_json_from(timeout=600)
            if frame.get("type") == "event":
                at = datetime.datetime.fromisoformat(frame["at"])
                latencies.append(time.time() - at.timestamp())

    # A communicator's receive with a timeout cancels its application when it times out: the readers run
    # until the upgrades end and are cancelled then.
    readers = [asyncio.create_task(drain(c)) for c in communicators]
    await stop.wait()
    await asyncio.sleep(0.5)  # the last frames in flight
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    for communicator in communicators:
        with contextlib.suppress(Exception):
            await communicator.disconnect()


async def test_bench_upgrades_per_minute_by_worker_processes():
    if await database_sync_to_async(needs_postgres)():
        return
    clusters = await database_sync_to_async(clusters_and_packages)()
    through_redis = bool(os.environ.get("REDIS_URL"))
    headers = await logged_in_headers() if through_redis else None
    rates = {}
    for count in PROCESS_COUNTS:
        await database_sync_to_async(reset)(clusters)
        processes = await database_sync_to_async(spawn_workers)(count)
        latencies = []
        stop = asyncio.Event()
        try:
            began = time.perf_counter()
            dags = [await database_sync_to_async(start_upgrade)(cluster, TARGET) for cluster in clusters]
            dag_ids = [dag.pk for dag in dags]
            watcher = asyncio.create_task(watch(dag_ids, headers, latencies, stop)) if through_redis else None
            while not await database_sync_to_async(all_finished)(dag_ids):
                await asyncio.sleep(0.05)  # a polling interval, not a wait for a state
            seconds = time.perf_counter() - began
            stop.set()
            if watcher is not None:
                await watcher
        finally:
            await database_sync_to_async(stop_workers)(processes)
        succeeded = await database_sync_to_async(
            lambda ids=dag_ids: Dag.objects.filter(pk__in=ids, state=State.SUCCEED).count()
        )()
        rates[count] = len(dag_ids) / seconds * 60
        print(
            f"\n[bench workers] {count} worker process(es): {len(dag_ids)} zero-duration upgrades "
            f"({succeeded} SUCCEED) in {seconds:.2f}s = {rates[count]:.1f} upgrades/min; "
            f"ratio to 1 process {rates[count] / rates[1]:.2f}x; {load()}"
        )
        if through_redis and latencies:
            print(f"  event latency through Redis at that load (at -> socket): {describe(latencies)}")
    if through_redis:
        baseline = await layer_round_trips(get_channel_layer(), 300)
        print(f"  baseline, bare group_send -> receive through the same layer: {describe(baseline)}")
        print(f"  (p99 of the bare round trip: {percentile([v * 1000 for v in baseline], 99):.2f} ms)")
    else:
        print("  event latency through Redis: skipped, needs REDIS_URL=redis://...")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def test_bench_worker_memory_after_100_upgrades_against_10():
    if needs_postgres():
        return
    clusters = clusters_and_packages()[:10]
    processes = spawn_workers(1)
    try:
        done = 0
        readings = {}
        while done < RSS_LAST:
            reset(clusters)
            dag_ids = [start_upgrade(cluster, TARGET).pk for cluster in clusters]
            wait_until(lambda ids=dag_ids: all_finished(ids), timeout=600, interval=0.05, what="a wave of upgrades")
            done += len(dag_ids)
            if done in (RSS_FIRST, RSS_LAST):
                readings[done] = rss_kib(processes[0].pid)
    finally:
        stop_workers(processes)
    first, last = readings[RSS_FIRST], readings[RSS_LAST]
    print(
        f"\n[bench workers] run_worker RSS after {RSS_LAST} upgrades: {last / 1024:.1f} MiB; after {RSS_FIRST}: "
        f"{first / 1024:.1f} MiB; ratio {last / first:.2f}x ({load()})"
    )
