"""The per-DAG event stream: every state change appends a DagEvent in the same transaction and is
published to websockets only after that transaction commits (design section 3). The engine and the
operator services both write through here; batched_events() turns a block's events into one insert."""

import logging
import threading
from contextlib import contextmanager

from django.db import transaction
from django.utils import timezone

from upgrades.models import Dag, DagEvent
from upgrades.operations.metrics import EVENTS_PUBLISHED
from upgrades.snapshots import dag_payload, node_payload, sub_task_payload

logger = logging.getLogger(__name__)


def emit(dag_id, kind, payload):
    """Append an event with the next gapless seq; must run inside the transaction that made the change.

    The UPDATE takes the DAG row lock until commit, so concurrent writers get consecutive seqs in
    commit order and a rolled-back change leaves no gap.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("emit() must be called inside transaction.atomic()")
    seq = _next_seq(dag_id)
    event = DagEvent.objects.create(dag_id=dag_id, seq=seq, kind=kind, payload=payload, at=timezone.now())
    message = event_message(event)
    transaction.on_commit(lambda: _publish([message]))
    return event


def emit_many(dag_id, events):
    """emit() for several (kind, payload) pairs of one DAG at once: consecutive seqs, one UPDATE and one
    INSERT, and one on-commit publish of all of them, in seq order."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("emit_many() must be called inside transaction.atomic()")
    events = list(events)
    if not events:
        return []
    last = _next_seq(dag_id, count=len(events))
    at = timezone.now()
    rows = DagEvent.objects.bulk_create(
        [
            DagEvent(dag_id=dag_id, seq=last - len(events) + i, kind=kind, payload=payload, at=at)
            for i, (kind, payload) in enumerate(events, start=1)
        ]
    )
    messages = [event_message(row) for row in rows]
    transaction.on_commit(lambda: _publish(messages))
    return rows


_batch = threading.local()


@contextmanager
def batched_events(dag_id):
    """Collect the events a block emits for one DAG and append them, in order, with a single emit_many
    when it ends (inside the same transaction); nested blocks join the outer one."""
    if getattr(_batch, "events", None) is not None:
        yield
        return
    _batch.events = []
    try:
        yield
        events = _batch.events
    finally:
        _batch.events = None
    emit_many(dag_id, events)


def emit_events(dag_id, events):
    """emit_many(), or into the enclosing batched_events() block."""
    collected = getattr(_batch, "events", None)
    if collected is not None:
        collected.extend(events)
    else:
        emit_many(dag_id, events)


def emit_dag(dag):
    emit_events(dag.pk, [(DagEvent.Kind.DAG_UPDATED, {"dag": dag_payload(dag)})])


def emit_node(node):
    emit_events(node.dag_id, [(DagEvent.Kind.NODE_UPDATED, {"node": node_payload(node)})])


def emit_sub_task(sub_task):
    emit_events(sub_task.dag_id, [sub_task_event(sub_task)])


def sub_task_event(sub_task):
    return (DagEvent.Kind.SUBTASK_UPDATED, {"sub_task": sub_task_payload(sub_task)})


def _next_seq(dag_id, count=1):
    """Bump and read Dag.last_seq in one statement (UPDATE ... RETURNING: SQLite >= 3.35, PostgreSQL)."""
    connection = transaction.get_connection()
    table = connection.ops.quote_name(Dag._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET last_seq = last_seq + %s WHERE id = %s RETURNING last_seq", [count, dag_id])
        row = cursor.fetchone()
    if row is None:
        raise Dag.DoesNotExist(f"no DAG {dag_id}")
    return row[0]


def event_message(event):
    return {
        "type": "event",
        "dag_id": event.dag_id,
        "seq": event.seq,
        "kind": event.kind,
        "at": event.at.isoformat(),
        "payload": event.payload,
    }


_publisher = None


def set_publisher(publish):
    """Set the function the messages of each commit's events are handed to, as one list in seq order: the
    live layer's websocket push, registered by UpgradesConfig.ready(), so this module never imports the live
    layer."""
    global _publisher
    _publisher = publish


def _publish(messages):
    if _publisher is not None and messages:
        EVENTS_PUBLISHED.inc(len(messages))
        try:
            _publisher(messages)
        except Exception:
            # After the commit: a failed push (the publisher reads the database too, which may just have gone
            # away) must not turn a committed transaction into an error for its caller, who would retry work
            # already done. Delivery is at-most-once; watchers heal from the database by seq.
            logger.exception("publishing %s events of DAG %s failed", len(messages), messages[0].get("dag_id"))


_feed_publisher = None


def set_feed_publisher(publish):
    """Set the function that pushes a fleet-wide message that is not a DagEvent (a campaign changed) to the
    feed: the live layer's, registered by UpgradesConfig.ready()."""
    global _feed_publisher
    _feed_publisher = publish


def publish_feed_on_commit(message):
    """Push `message` (a dict with a "kind") to the feed once the current transaction commits; at most once,
    like DagEvents: pages treat it as a hint to re-read."""

    def push():
        if _feed_publisher is None:
            return
        try:
            _feed_publisher(message)
        except Exception:
            logger.exception("publishing a %s feed message failed", message.get("kind"))

    transaction.on_commit(push)
