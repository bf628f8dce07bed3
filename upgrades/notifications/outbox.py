"""From DagEvents to Delivery rows.

Each DAG's events carry a gapless seq assigned under the DAG's row lock and committed with `Dag.last_seq`, so
once a committed last_seq N is read, every event up to N is visible: a per-DAG cursor (NotificationCursor)
never skips an event that commits late, as a global id cursor would. One pass reads the DAGs whose last_seq is
past their cursor, turns their new events into notifications, inserts the deliveries and moves the cursors,
all in one transaction: a worker killed mid-pass leaves nothing, and the next pass does it again. A delivery is
unique per (subscription, event), so two passes that overlap (a runner whose job lease expired) insert it once.

Events that notify: dag.created (upgrade started), a dag.updated that changes the DAG's state to SUCCEED
(succeeded; rolled back when the operator is ROLLBACK) or FAILED (failed; cancelled when the operator is
CANCEL), and node.stalled. Only upgrade DAGs notify (not upgrade_check). A subscription hears of events at or
after it was created or last enabled (`active_since`).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from upgrades.models import Dag, DagEvent, Delivery, Node, NotificationCursor, Subscription, TaskLog
from upgrades.models.dag import Operator, State
from upgrades.notifications import formats
from upgrades.preferences import message_locale
from upgrades.security.keys import field_decrypt
from upgrades.snapshots import dag_payload

Event = Subscription.Event
STALLED_KIND = "node.stalled"
READ_KINDS = (DagEvent.Kind.DAG_CREATED, DagEvent.Kind.DAG_UPDATED, DagEvent.Kind.NODE_UPDATED, STALLED_KIND)
LOG_TAIL_LINES = 10
LOG_LINE_MAX = 500
DAGS_PER_PASS = 200

# Each event's summary in full, so a translation can put the words where its language wants them.
SUMMARIES = {
    Event.STARTED: _("%(cluster)s: upgrade %(from)s → %(to)s started"),
    Event.SUCCEEDED: _("%(cluster)s: upgrade %(from)s → %(to)s succeeded"),
    Event.FAILED: _("%(cluster)s: upgrade %(from)s → %(to)s failed"),
    Event.CANCELLED: _("%(cluster)s: upgrade %(from)s → %(to)s was cancelled"),
    Event.ROLLED_BACK: _("%(cluster)s: upgrade %(from)s → %(to)s was rolled back"),
    Event.STALLED: _("%(cluster)s: upgrade %(from)s → %(to)s is stalled"),
}


def run_url(dag_id: int) -> str:
    return f"{settings.DASHBOARD_URL}/runs/{dag_id}/"


def _dag_brief(dag: dict) -> dict:
    keys = ("id", "generic_id", "name", "kind", "state", "operator", "stage", "max_stage", "mode")
    brief = {key: dag.get(key) for key in keys}
    brief.update(from_version=dag.get("from_version"), to_version=dag.get("to_version"))
    return brief


def summary(event: str, dag: dict, extra: str = "") -> str:
    """The one-line summary in the active language (the subscription's, in delivery_for)."""
    names = {"cluster": dag.get("cluster", ""), "from": dag.get("from_version", ""), "to": dag.get("to_version", "")}
    template = SUMMARIES.get(event)  # type: ignore[call-overload]
    text = str(template) % names if template is not None else f"{names['cluster']}: {event}"
    return (text + extra)[:300]


def summary_detail(event: str, dag: dict, extra: dict) -> str:
    if event == Event.FAILED and extra.get("failed_node"):
        name = extra["failed_node"].get("name", "")
        if dag.get("operator") == Operator.ROLLBACK:
            return gettext(" while rolling back at “%(stage)s”") % {"stage": name}
        return gettext(" at “%(stage)s”") % {"stage": name}
    if event == Event.SUCCEEDED and dag.get("operator") == Operator.PASS:
        return gettext(" (passed by an operator)")
    if event == Event.STALLED and extra.get("stalled"):
        return gettext(" at “%(stage)s”") % {"stage": extra["stalled"].get("node_name", "")}
    return ""


def note_summary(note: dict) -> str:
    """A notification's summary, written again in the active language (a test message keeps its own)."""
    if note["event"] not in SUMMARIES:
        return note["summary"]
    dag = {**(note.get("dag") or {}), "cluster": note.get("cluster", "")}
    return summary(note["event"], dag, summary_detail(note["event"], dag, note))


def notification(event: str, dag: dict, *, at: datetime, seq: int | None, **extra: Any) -> dict:
    return {
        "event": str(event),
        "summary": summary(event, dag, summary_detail(event, dag, extra)),
        "cluster": dag.get("cluster", ""),
        "dag": _dag_brief(dag),
        "url": run_url(dag["id"]),
        "at": at.isoformat(),
        "seq": seq,
        **extra,
    }


def _stalled(payload: dict) -> dict:
    """node.stalled's payload (upgrades/operations/durations.stall_payload: node_id, node_name, node_seq,
    action, running_seconds, usual_median_seconds, usual_p90_seconds), read leniently."""
    node = payload.get("node") if isinstance(payload.get("node"), dict) else {}

    def pick(*names: str) -> Any:
        for name in names:
            for source in (payload, node):
                if source.get(name) is not None:
                    return source[name]
        return None

    return {
        "node_id": pick("node_id", "id"),
        "node_seq": pick("node_seq", "seq"),
        "node_name": pick("node_name", "name") or "",
        "action": pick("action") or "",
        "running_seconds": pick("running_seconds", "running"),
        "median_seconds": pick("median_seconds", "usual_median_seconds", "median"),
        "p90_seconds": pick("p90_seconds", "usual_p90_seconds", "p90"),
    }


def _failed_node(dag_id: int, seen: dict | None) -> dict | None:
    if seen is not None:
        return seen
    node = Node.objects.filter(dag_id=dag_id, state=State.FAILED).order_by("-end_time", "-seq").first()
    if node is None:
        return None
    return {"id": node.pk, "generic_id": node.generic_id, "seq": node.seq, "name": node.name}


def log_tail(node_id: int, at: datetime) -> list[str]:
    rows = (
        TaskLog.objects.filter(sub_task__node_id=node_id, created_at__lte=at)
        .select_related("sub_task")
        .order_by("-id")[:LOG_TAIL_LINES]
    )
    return [f"[{row.sub_task.agent_ip}:{row.sub_task.agent_port}] {row.line}"[:LOG_LINE_MAX] for row in reversed(rows)]


def classify(events: list[DagEvent], state_before: str) -> tuple[list[tuple[DagEvent, dict]], str]:
    """The notifications a run of one DAG's events makes, in seq order, and the DAG state after them."""
    found: list[tuple[DagEvent, dict]] = []
    state = state_before
    failed_node: dict | None = None
    for event in events:
        payload = event.payload or {}
        if event.kind == DagEvent.Kind.NODE_UPDATED:
            node = payload.get("node") or {}
            if node.get("state") == State.FAILED:
                failed_node = {k: node.get(k) for k in ("id", "generic_id", "seq", "name")}
            continue
        if event.kind == STALLED_KIND:
            dag = _dag_of(event)
            if dag is not None and dag.get("kind", Dag.Kind.UPGRADE) == Dag.Kind.UPGRADE:
                found.append(
                    (event, notification(Event.STALLED, dag, at=event.at, seq=event.seq, stalled=_stalled(payload)))
                )
            continue
        dag = payload.get("dag") or {}
        new_state = dag.get("state", "")
        changed = new_state != state
        state = new_state
        if dag.get("kind") != Dag.Kind.UPGRADE:
            continue
        if event.kind == DagEvent.Kind.DAG_CREATED:
            found.append((event, notification(Event.STARTED, dag, at=event.at, seq=event.seq)))
        elif changed and new_state == State.SUCCEED:
            kind = Event.ROLLED_BACK if dag.get("operator") == Operator.ROLLBACK else Event.SUCCEEDED
            found.append((event, notification(kind, dag, at=event.at, seq=event.seq)))
        elif changed and new_state == State.FAILED:
            if dag.get("operator") == Operator.CANCEL:
                found.append((event, notification(Event.CANCELLED, dag, at=event.at, seq=event.seq)))
            else:
                node = _failed_node(event.dag_id, failed_node)
                tail = log_tail(node["id"], event.at) if node and node.get("id") else []
                found.append(
                    (
                        event,
                        notification(Event.FAILED, dag, at=event.at, seq=event.seq, failed_node=node, log_tail=tail),
                    )
                )
            failed_node = None
    return found, state


def _dag_of(event: DagEvent) -> dict | None:
    """A DAG's payload for events that do not carry one (node.stalled)."""
    dag = Dag.objects.select_related("cluster").filter(pk=event.dag_id).first()
    return dag_payload(dag) if dag is not None else None


def _matches(subscription: Subscription, cluster_ids: set[int], note: dict, cluster_id: int, at: datetime) -> bool:
    if note["event"] not in subscription.events or at < subscription.active_since:
        return False
    return subscription.all_clusters or cluster_id in cluster_ids


def delivery_for(
    subscription: Subscription, note: dict, *, kind: str, event: DagEvent | None, dag_id: int | None
) -> Delivery:
    target = field_decrypt(subscription.target_encrypted)
    with message_locale(subscription.language, subscription.time_zone):
        note = {**note, "summary": note_summary(note)}
        body = formats.body_for(subscription.format, note)
        subject = formats.email_subject(note)
    return Delivery(
        subscription=subscription,
        kind=kind,
        dag_id=dag_id,
        dag_event_id=event.pk if event is not None else None,
        event_seq=event.seq if event is not None else None,
        event_at=event.at if event is not None else None,
        summary=note["summary"][:300],
        request_url=subscription.target_display if subscription.format != Subscription.Format.EMAIL else target,
        request_body=body,
        request_headers={"Subject": subject} if subscription.format == Subscription.Format.EMAIL else {},
    )


def enqueue_new_events(*, dags_per_pass: int = DAGS_PER_PASS) -> int:
    """One pass: deliveries for the new events of up to `dags_per_pass` DAGs; returns how many were queued."""
    subscriptions = list(Subscription.objects.filter(enabled=True).prefetch_related("clusters"))
    if not subscriptions:
        return 0  # nothing listens; cursors stay behind and active_since keeps old events out later
    since = min(s.active_since for s in subscriptions)
    notified = NotificationCursor.objects.filter(dag=OuterRef("pk")).values("seq")[:1]
    candidates = list(
        Dag.objects.annotate(notified=Coalesce(Subquery(notified), Value(0)))
        .filter(last_seq__gt=F("notified"))
        .order_by("id")
        .values_list("id", "cluster_id", "last_seq", "notified")[:dags_per_pass]
    )
    if not candidates:
        return 0
    bounds = {dag_id: (cluster_id, low, high) for dag_id, cluster_id, high, low in candidates}
    clusters = {s.pk: {c.pk for c in s.clusters.all()} for s in subscriptions}
    queued = 0
    with transaction.atomic():
        cursors = NotificationCursor.objects.select_for_update().in_bulk(list(bounds))
        by_dag: dict[int, list[DagEvent]] = defaultdict(list)
        rows = DagEvent.objects.filter(dag_id__in=list(bounds), kind__in=READ_KINDS, at__gte=since).order_by(
            "dag_id", "seq"
        )
        for event in rows.iterator():
            _, low, high = bounds[event.dag_id]
            cursor = cursors.get(event.dag_id)
            low = max(low, cursor.seq if cursor else 0)
            if low < event.seq <= high:
                by_dag[event.dag_id].append(event)
        deliveries: list[Delivery] = []
        new_cursors: list[NotificationCursor] = []
        moved: list[NotificationCursor] = []
        for dag_id, (cluster_id, _, high) in bounds.items():
            cursor = cursors.get(dag_id)
            found, state = classify(by_dag.get(dag_id, []), cursor.state if cursor else "")
            for event, note in found:
                for subscription in subscriptions:
                    if _matches(subscription, clusters[subscription.pk], note, cluster_id, event.at):
                        deliveries.append(
                            delivery_for(subscription, note, kind=note["event"], event=event, dag_id=dag_id)
                        )
            if cursor is None:
                new_cursors.append(NotificationCursor(dag_id=dag_id, seq=high, state=state))
            elif cursor.seq < high:
                cursor.seq, cursor.state = high, state
                moved.append(cursor)
        if deliveries:
            queued = len(Delivery.objects.bulk_create(deliveries, ignore_conflicts=True))
        NotificationCursor.objects.bulk_create(new_cursors, ignore_conflicts=True)
        if moved:
            NotificationCursor.objects.bulk_update(moved, ["seq", "state"])
    return queued
