"""The per-DAG event stream: every state change appends a DagEvent in the same transaction and is
published to websockets only after that transaction commits (design section 3)."""

from django.db import transaction
from django.utils import timezone

from upgrades.models import Dag, DagEvent


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
    transaction.on_commit(lambda: _publish(message))
    return event


def _next_seq(dag_id):
    """Bump and read Dag.last_seq in one statement (UPDATE ... RETURNING: SQLite >= 3.35, PostgreSQL)."""
    connection = transaction.get_connection()
    table = connection.ops.quote_name(Dag._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET last_seq = last_seq + 1 WHERE id = %s RETURNING last_seq", [dag_id])
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


def _publish(message):
    from upgrades.live.publish import publish_dag_event

    publish_dag_event(message)
