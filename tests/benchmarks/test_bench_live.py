"""Benchmarks of the live stream (make bench). Figures are printed with a ratio against a baseline measured in
the same run; nothing here asserts on timing.

- commit-to-client latency in one process: a plain thread (like an embedded worker) commits a change and its
  event travels on_commit -> channel layer -> consumer -> socket. Baseline: a bare layer group_send -> receive.
- the same across processes through Redis (needs REDIS_URL): the change commits in this process, a daphne child
  serves a real websocket. Baseline: a bare Redis group_send -> receive in this process.
- 1,000 sockets on one DAG in one server process, through the embedded profile's in-memory layer and through
  the scale-out profile's Redis pub/sub layer (REDIS_URL): every socket must receive every event, with events
  committed at 10 per second and in a back-to-back burst. Baseline: 1 socket on the same layer.
- a resume over 10,000 missed events. Baseline: reading the same 10,000 rows from the database.
"""

import asyncio
import json
import os
import time

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from tests.live.helpers import dag_communicator, logged_in_headers, make_dag, session_cookie
from tests.support.factories import make_user
from upgrades.events import emit
from upgrades.models import Dag, DagEvent, Node
from upgrades.snapshots import node_payload

pytestmark = pytest.mark.django_db(transaction=True)

LATENCY_EVENTS = 300
FANOUT_SOCKETS = 1000
FANOUT_EVENTS = 20
RESUME_EVENTS = 10_000


def layer_name():
    return settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def describe(values):
    ms = [v * 1000 for v in values]
    return f"p50 {percentile(ms, 50):7.2f} ms  p99 {percentile(ms, 99):7.2f} ms  max {max(ms):7.2f} ms  (n={len(ms)})"


def report(title, measured, baseline, target_ms=None):
    ratio = percentile(measured, 99) / max(percentile(baseline, 99), 1e-9)
    target = f"; target p99 < {target_ms} ms" if target_ms else ""
    print(f"\n[bench live] {title} ({layer_name()}){target}")
    print(f"  measured: {describe(measured)}")
    print(f"  baseline: {describe(baseline)}")
    print(f"  ratio p99 measured/baseline: {ratio:.1f}x")


def commit_stamped_change(dag_id, node_id, index):
    """One state change as a service makes it; its payload carries the time just before the commit."""
    try:
        with transaction.atomic():
            node = Node.objects.get(pk=node_id)
            node.state = "RUNNING" if index % 2 else "PENDING"
            node.save(update_fields=["state"])
            emit(dag_id, "node.updated", {"node": node_payload(node), "t0": time.perf_counter()})
    finally:
        connection.close()  # executor threads outlive the test; the test database must be droppable


async def layer_round_trips(layer, count):
    channel = await layer.new_channel()
    await layer.group_add("bench-baseline", channel)
    samples = []
    for i in range(count):
        t0 = time.perf_counter()
        await layer.group_send("bench-baseline", {"type": "bench", "i": i})
        await layer.receive(channel)
        samples.append(time.perf_counter() - t0)
    await layer.group_discard("bench-baseline", channel)
    return samples


async def next_event(communicator, timeout=10):
    while True:
        frame = await communicator.receive_json_from(timeout=timeout)
        if frame["type"] == "event":
            return frame


async def test_bench_commit_to_client_latency_in_process():
    dag = await database_sync_to_async(make_dag)()
    node = await database_sync_to_async(Node.objects.filter(dag=dag).first)()
    communicator = dag_communicator(dag.pk, await logged_in_headers())
    await communicator.connect()
    await communicator.receive_json_from()
    loop = asyncio.get_running_loop()
    samples = []
    for i in range(LATENCY_EVENTS):
        # A plain executor thread, as an embedded worker commits: not one of asgiref's threads.
        sent = loop.run_in_executor(None, commit_stamped_change, dag.pk, node.pk, i)
        frame = await next_event(communicator)
        samples.append(time.perf_counter() - frame["payload"]["t0"])
        await sent
    await communicator.disconnect()
    baseline = await layer_round_trips(get_channel_layer(), LATENCY_EVENTS)
    report("commit-to-client latency, one process", samples, baseline, target_ms=50)


async def fan_out(dag, sockets, *, pace=0.0):
    node = await database_sync_to_async(Node.objects.filter(dag=dag).first)()
    headers = await logged_in_headers()
    communicators = [dag_communicator(dag.pk, headers) for _ in range(sockets)]
    connect_started = time.perf_counter()
    for batch in range(0, sockets, 100):
        chunk = communicators[batch : batch + 100]
        await asyncio.gather(*(c.connect(timeout=60) for c in chunk))
        await asyncio.gather(*(c.receive_json_from(timeout=60) for c in chunk))
    connect_seconds = time.perf_counter() - connect_started

    received = [[] for _ in communicators]

    async def drain(index, communicator):
        while len(received[index]) < FANOUT_EVENTS:
            frame = await next_event(communicator, timeout=60)
            received[index].append((frame["seq"], time.perf_counter() - frame["payload"]["t0"]))

    readers = [asyncio.create_task(drain(i, c)) for i, c in enumerate(communicators)]
    loop = asyncio.get_running_loop()
    for i in range(FANOUT_EVENTS):
        await loop.run_in_executor(None, commit_stamped_change, dag.pk, node.pk, i)
        if pace:
            await asyncio.sleep(pace)  # the rate events are committed at, not a wait for a state
    await asyncio.wait_for(asyncio.gather(*readers), timeout=300)
    await asyncio.gather(*(c.disconnect() for c in communicators))
    first_seq = received[0][0][0]
    complete = all([seq for seq, _ in got] == list(range(first_seq, first_seq + FANOUT_EVENTS)) for got in received)
    return [latency for got in received for _, latency in got], complete, connect_seconds


IN_MEMORY_LAYER = {"BACKEND": "upgrades.live.layers.LiveInMemoryChannelLayer", "CONFIG": {"capacity": 1000}}


@pytest.mark.parametrize("layer", ["in-memory", "redis"])
@pytest.mark.parametrize(
    ("pace", "label"), [(0.1, "committed 10 per second"), (0.0, "committed back to back (a burst)")]
)
async def test_bench_one_thousand_sockets_on_one_dag(layer, pace, label, settings):
    """One server process watching a DAG, through the embedded profile's in-memory layer and through the
    scale-out profile's Redis layer (settings.CHANNEL_LAYERS with REDIS_URL set): the worker's commits reach
    Redis from this process's publisher thread and come back through this process's subscriber."""
    if layer == "in-memory":
        settings.CHANNEL_LAYERS = {"default": IN_MEMORY_LAYER}
    elif not os.environ.get("REDIS_URL"):
        print(f"\n[bench live] {FANOUT_SOCKETS} sockets through Redis: skipped, needs REDIS_URL=redis://...")
        return
    baseline, _, _ = await fan_out(await database_sync_to_async(make_dag)(), 1, pace=pace)
    dag = await database_sync_to_async(make_dag)()
    measured, complete, connect_seconds = await fan_out(dag, FANOUT_SOCKETS, pace=pace)
    title = f"{FANOUT_SOCKETS} sockets x {FANOUT_EVENTS} events on one DAG, {label}"
    report(title, measured, baseline, target_ms=500)
    print(f"  every socket received every event in order: {complete} ({len(measured)} deliveries)")
    print(f"  {FANOUT_SOCKETS} connects with snapshot took {connect_seconds:.2f} s")


def missed_events(count):
    dag = make_dag()
    node = Node.objects.filter(dag=dag).first()
    payload = {"node": node_payload(node)}
    now = timezone.now()
    DagEvent.objects.bulk_create(
        [DagEvent(dag=dag, seq=seq, kind="node.updated", payload=payload, at=now) for seq in range(2, count + 2)],
        batch_size=2000,
    )
    Dag.objects.filter(pk=dag.pk).update(last_seq=count + 1)
    return dag


async def test_bench_resume_over_ten_thousand_missed_events():
    dag = await database_sync_to_async(missed_events)(RESUME_EVENTS)
    communicator = dag_communicator(dag.pk, await logged_in_headers())
    await communicator.connect()
    await communicator.receive_json_from(timeout=30)
    samples = []
    for _ in range(5):
        t0 = time.perf_counter()
        await communicator.send_json_to({"type": "resume", "after_seq": 1})
        frame = await communicator.receive_json_from(timeout=30)
        samples.append(time.perf_counter() - t0)
        assert frame["type"] == "replay"  # the shape this benchmark measures, not a timing
        await communicator.receive_json_from(timeout=30)  # the "actions" frame that follows
    count = len(frame["events"])
    await communicator.disconnect()

    def read_rows():
        t0 = time.perf_counter()
        list(DagEvent.objects.filter(dag=dag, seq__gt=1).order_by("seq").values("seq", "kind", "payload", "at"))
        return time.perf_counter() - t0

    baseline = [await database_sync_to_async(read_rows)() for _ in range(5)]
    report(f"resume over {count} missed events (target < 1000 ms)", samples, baseline)


@pytest.mark.redis
async def test_bench_commit_to_client_latency_across_processes_through_redis():
    import websockets

    from tests.support.live_server import LiveServer

    dag = await database_sync_to_async(make_dag)()
    node = await database_sync_to_async(Node.objects.filter(dag=dag).first)()
    user = await database_sync_to_async(make_user)("viewer")
    cookie = (await sync_to_async(session_cookie)(user)).decode()
    server = await sync_to_async(LiveServer(EMBEDDED_WORKER=0, REDIS_URL=os.environ["REDIS_URL"]).start)()
    try:
        url = f"ws://127.0.0.1:{server.port}/ws/dags/{dag.pk}/"
        async with websockets.connect(
            url, origin=f"http://127.0.0.1:{server.port}", additional_headers={"Cookie": cookie}
        ) as socket:
            json.loads(await socket.recv())  # snapshot
            loop = asyncio.get_running_loop()
            samples = []
            for i in range(LATENCY_EVENTS):
                sent = loop.run_in_executor(None, commit_stamped_change, dag.pk, node.pk, i)
                while True:
                    frame = json.loads(await asyncio.wait_for(socket.recv(), 10))
                    if frame["type"] == "event":
                        break
                samples.append(time.perf_counter() - frame["payload"]["t0"])
                await sent
    finally:
        await sync_to_async(server.stop)()
    baseline = await layer_round_trips(get_channel_layer(), LATENCY_EVENTS)
    report(
        "commit-to-client latency, worker process -> Redis -> daphne child -> websocket",
        samples,
        baseline,
        target_ms=100,
    )
