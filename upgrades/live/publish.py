"""Pushing committed DagEvents to websockets through the channel layer.

`publish_dag_event` is called by upgrades.events.emit after the transaction commits, from whatever thread
committed: a request thread, a `run_worker` process, or an embedded worker thread inside the server process.

Channel layers are async and bound to an event loop:
- InMemoryChannelLayer keeps asyncio queues that belong to the server's loop; putting into them from another
  thread's loop neither wakes the consumer nor is thread-safe. So the send is scheduled on the loop the
  consumers run on (captured when a consumer connects) with run_coroutine_threadsafe.
- Any other layer (channels_redis) is driven from one long-lived publisher loop in a daemon thread, so its
  connection pool is reused instead of being rebuilt by async_to_sync for every call.
Delivery stays at-most-once either way; every event carries its seq and consumers and clients heal gaps from
the database.
"""

import asyncio
import json
import logging
import threading

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder

from upgrades.models import DagEvent

logger = logging.getLogger(__name__)

FEED_GROUP = "feed"
# node.stalled too: the fleet page marks a stalled run's row.
FEED_KINDS = frozenset({DagEvent.Kind.DAG_CREATED, DagEvent.Kind.DAG_UPDATED, DagEvent.Kind.NODE_STALLED})
# A DAG's state can change the operator buttons a page may show (spec 6.4).
ACTION_KINDS = frozenset(
    {DagEvent.Kind.DAG_CREATED, DagEvent.Kind.DAG_UPDATED, DagEvent.Kind.NODE_UPDATED, DagEvent.Kind.OPERATOR_APPLIED}
)
SEND_TIMEOUT = 10.0

_server_loop = None
_NOBODY = object()
_publisher_loop = None
_publisher_lock = threading.Lock()


def dag_group(dag_id):
    return f"dag-{dag_id}"


def remember_server_loop():
    """Called by consumers (in the server's event loop): the loop in-memory sends must run on."""
    global _server_loop
    _server_loop = asyncio.get_running_loop()


def publish_dag_event(message):
    """Send one committed event to its DAG's group (and dag.created/dag.updated to the feed group)."""
    publish_dag_events([message])


def publish_dag_events(messages):
    """publish_dag_event for the events one transaction committed, in seq order, with one hand-over to the
    layer's loop (a worker finishing a batch of sub-tasks commits dozens at once)."""
    loop = _target_loop()
    if loop is _NOBODY:
        return
    sends = []
    actions = {}
    for message in messages:
        if message["kind"] in ACTION_KINDS:
            dag_id = message["dag_id"]
            if dag_id not in actions:
                actions[dag_id] = _actions_for(dag_id)
            message = {**message, "actions": actions[dag_id]}
        # The client frame is encoded here once, not once per watching socket.
        frame = json.dumps({**message, "type": "event"}, cls=DjangoJSONEncoder)
        sends.append((dag_group(message["dag_id"]), {**message, "type": "dag.event", "frame": frame}))
        if message["kind"] in FEED_KINDS:
            sends.append((FEED_GROUP, {**message, "type": "feed.event"}))
    _run_on_loop(_group_send_all(sends), loop)


def publish_feed_message(message):
    """A fleet-wide message that is not a DagEvent (a campaign's state changed), to the feed group only."""
    loop = _target_loop()
    if loop is _NOBODY:
        return
    _run_on_loop(_group_send_all([(FEED_GROUP, {**message, "type": "feed.campaign"})]), loop)


async def _group_send_all(sends):
    layer = get_channel_layer()
    for group, message in sends:
        await layer.group_send(group, message)


def _actions_for(dag_id):
    from upgrades.live.actions import allowed_actions
    from upgrades.models import Dag

    dag = Dag.objects.filter(pk=dag_id).first()
    return allowed_actions(dag) if dag else {}


def _run_on_loop(coro, loop):
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        # Already on the loop that owns the layer: do not block it waiting for ourselves.
        running.create_task(coro)
        return
    future = asyncio.run_coroutine_threadsafe(coro, loop)
    try:
        future.result(timeout=SEND_TIMEOUT)
    except Exception:
        # At-most-once: a lost push is healed from the database by seq (consumer gap fill, heartbeat, resume).
        logger.exception("publishing a DAG event to the channel layer failed")


def _target_loop():
    if isinstance(get_channel_layer(), InMemoryChannelLayer):
        loop = _server_loop
        if loop is None or loop.is_closed() or not loop.is_running():
            # No consumer is connected in this process, so no in-memory group has a member to reach.
            return _NOBODY
        return loop
    return _publisher()


def _publisher():
    global _publisher_loop
    with _publisher_lock:
        if _publisher_loop is None or _publisher_loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="live-publisher", daemon=True).start()
            _publisher_loop = loop
        return _publisher_loop
