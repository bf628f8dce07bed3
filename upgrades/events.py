"""The per-DAG event stream: every state change appends a DagEvent in the same transaction and is
published to websockets only after that transaction commits (design section 3)."""

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from upgrades.models import Dag, DagEvent


def emit(dag_id, kind, payload):
    """Append an event with the next gapless seq; must run inside the transaction that made the change.

    The UPDATE takes the DAG row lock until commit, so concurrent writers get consecutive seqs in
    commit order and a rolled-back change leaves no gap.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("emit() must be called inside transaction.atomic()")
    Dag.objects.filter(pk=dag_id).update(last_seq=F("last_seq") + 1)
    seq = Dag.objects.filter(pk=dag_id).values_list("last_seq", flat=True).get()
    event = DagEvent.objects.create(dag_id=dag_id, seq=seq, kind=kind, payload=payload, at=timezone.now())
    message = event_message(event)
    transaction.on_commit(lambda: _publish(message))
    return event


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
