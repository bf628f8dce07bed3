"""The channel layer delivers at most once; the stream a client ends with must still be complete and ordered."""

import pytest
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from channels_redis.pubsub import RedisPubSubChannelLayer

from tests.live.helpers import dag_communicator, logged_in_headers, make_dag, set_dag_state
from upgrades.live import publish

pytestmark = pytest.mark.django_db(transaction=True)


class ClientModel:
    """What static/js/run.js does with frames: apply in seq order, ask for a resume on a gap."""

    def __init__(self):
        self.seq = None
        self.applied = []
        self.resumes = 0

    async def handle(self, frame, communicator):
        kind = frame["type"]
        if kind == "snapshot":
            self.seq = frame["seq"]
        elif kind == "replay":
            for event in frame["events"]:
                await self.apply(event, communicator)
        elif kind == "event":
            await self.apply(frame, communicator)
        elif kind == "heartbeat" and frame["seq"] > self.seq:
            await self.resume(communicator)

    async def apply(self, event, communicator):
        if event["seq"] <= self.seq:
            return
        if event["seq"] > self.seq + 1:
            await self.resume(communicator)
            return
        self.applied.append(event["seq"])
        self.seq = event["seq"]

    async def resume(self, communicator):
        self.resumes += 1
        await communicator.send_json_to({"type": "resume", "after_seq": self.seq})


@pytest.fixture
def lossy_layer(monkeypatch):
    """Drops every third message sent to a DAG group."""
    layer = get_channel_layer()
    original = layer.group_send
    counter = {"sent": 0, "dropped": 0}

    async def group_send(group, message):
        if group.startswith("dag-"):
            counter["sent"] += 1
            if counter["sent"] % 3 == 0:
                counter["dropped"] += 1
                return
        await original(group, message)

    monkeypatch.setattr(layer, "group_send", group_send)
    return counter


async def test_every_third_layer_message_dropped_still_ends_complete_and_ordered(lossy_layer, settings):
    settings.LIVE_HEARTBEAT_SECONDS = 0.2
    dag = await database_sync_to_async(make_dag)()
    communicator = dag_communicator(dag.pk, await logged_in_headers())
    await communicator.connect()
    client = ClientModel()
    await client.handle(await communicator.receive_json_from(), communicator)
    assert client.seq == 1

    states = ["RUNNING", "FAILED", "READY"] * 10
    for state in states:
        await database_sync_to_async(set_dag_state)(dag.pk, state)
    assert lossy_layer["dropped"] == 10  # including the last one: only the heartbeat can reveal that gap

    while client.seq < 31:
        await client.handle(await communicator.receive_json_from(timeout=5), communicator)
    assert client.applied == list(range(2, 32))
    await communicator.disconnect()


async def test_reordered_layer_messages_are_sent_in_seq_order_once(monkeypatch):
    dag = await database_sync_to_async(make_dag)()
    communicator = dag_communicator(dag.pk, await logged_in_headers())
    await communicator.connect()
    await communicator.receive_json_from()

    held = []
    monkeypatch.setattr(publish, "publish_dag_events", held.extend)
    for state in ["RUNNING", "FAILED", "READY"]:
        await database_sync_to_async(set_dag_state)(dag.pk, state)
    monkeypatch.undo()
    assert [m["seq"] for m in held] == [2, 3, 4]
    layer = get_channel_layer()
    for message in [held[2], held[0], held[1]]:
        await layer.group_send(publish.dag_group(dag.pk), {**message, "type": "dag.event"})

    frames = [await communicator.receive_json_from() for _ in range(3)]
    assert [(f["type"], f["seq"]) for f in frames] == [("event", 2), ("event", 3), ("event", 4)]
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


async def _forget_groups(layer, group):
    if isinstance(layer, InMemoryChannelLayer):
        layer.groups.pop(group, None)
        return
    if isinstance(layer, RedisPubSubChannelLayer):
        # Redis pub/sub: the process's subscription to the group's channel is gone (a subscriber connection
        # dropped and not re-subscribed), while its sockets still think they are members.
        inner = layer._get_layer()
        group_channel = inner._get_group_channel_name(group)
        await inner._get_shard(group_channel).unsubscribe(group_channel)
        return
    # channels_redis: what a Redis restart does to the group's member set.
    async with layer.connection(layer.consistent_hash(group)) as connection:
        await connection.delete(layer._group_key(group))


async def _members(layer, group):
    if isinstance(layer, InMemoryChannelLayer):
        return len(layer.groups.get(group, {}))
    if isinstance(layer, RedisPubSubChannelLayer):
        inner = layer._get_layer()
        group_channel = inner._get_group_channel_name(group)
        subscribed = group_channel in inner._get_shard(group_channel)._subscribed_to
        return len(inner.groups.get(group_channel, ())) if subscribed else 0
    async with layer.connection(layer.consistent_hash(group)) as connection:
        return await connection.zcard(layer._group_key(group))


async def test_a_layer_that_lost_its_groups_heals_on_the_next_heartbeat(settings):
    settings.LIVE_HEARTBEAT_SECONDS = 0.2
    dag = await database_sync_to_async(make_dag)()
    communicator = dag_communicator(dag.pk, await logged_in_headers())
    await communicator.connect()
    await communicator.receive_json_from()
    await _forget_groups(get_channel_layer(), publish.dag_group(dag.pk))

    await database_sync_to_async(set_dag_state)(dag.pk, "RUNNING")  # reaches nobody: the group is gone
    seen = []
    while not seen or seen[-1]["type"] != "heartbeat":
        seen.append(await communicator.receive_json_from(timeout=5))
    assert [(f["type"], f.get("seq")) for f in seen if f["type"] != "actions"] == [("event", 2), ("heartbeat", 2)]

    assert await _members(get_channel_layer(), publish.dag_group(dag.pk)) == 1  # the heartbeat re-joined
    await database_sync_to_async(set_dag_state)(dag.pk, "FAILED")
    frame = await communicator.receive_json_from(timeout=5)
    assert (frame["type"], frame["seq"]) == ("event", 3)
    await communicator.disconnect()
