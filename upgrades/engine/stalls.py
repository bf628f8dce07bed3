"""Stall detection: a running node past twice its usual duration gets one `node.stalled` DagEvent.

Two periodic jobs, run by the workers under their leases (upgrades/engine/periodic.py):
- `refresh-step-durations` (every 5 minutes) rebuilds the usual durations (upgrades/operations/durations.py);
- `detect-stalled-nodes` (every 5 s) compares each running node of a running DAG with its usual duration.

"Exactly once" per run of a node: the event is appended in the transaction whose conditional UPDATE sets
Node.stalled_at, guarded by "not yet reported since the node started" (durations.stalled_filter()), under the
DAG row lock every writer of the DAG takes first. A node that is retried later starts again and may stall
again. Nothing is reported without MIN_SAMPLES finished samples, nor before STALL_MIN_SECONDS: a usual
duration of a few milliseconds (a simulation at speed 0) must not make every step a stall.

The event's payload (what notifications and the run page read):
    {"node_id", "node_generic_id", "node_name", "node_seq", "action", "servers", "started_at",
     "running_seconds", "usual_median_seconds", "usual_p90_seconds", "usual_samples", "usual_size_bucket"}
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from upgrades.dag_locks import lock_dag
from upgrades.engine import periodic
from upgrades.events import emit
from upgrades.models import DagEvent, Node
from upgrades.models.dag import State
from upgrades.operations import durations

logger = logging.getLogger(__name__)

STALL_FACTOR = 2.0
DETECT_EVERY = 5.0
REFRESH_EVERY = 300.0
_STARTED_AFTER = datetime(1971, 1, 1, tzinfo=UTC)


def stall_threshold(usual: durations.UsualDuration) -> float:
    """Seconds after which a node with this usual duration is stalled."""
    return max(STALL_FACTOR * usual.median_seconds, float(settings.STALL_MIN_SECONDS))


def detect_stalled_nodes() -> int:
    """Emit node.stalled for every running node past its threshold not yet reported; returns how many."""
    candidates = list(
        Node.objects.filter(
            dag__is_finished=False,
            dag__state=State.RUNNING,
            state=State.RUNNING,
            start_time__gt=_STARTED_AFTER,
        )
        .filter(durations.stalled_filter())
        .values_list("id", "dag_id", "action", "start_time", "dag__server_count")
    )
    if not candidates:
        return 0
    usual = durations.usual_durations((action, servers) for _, _, action, _, servers in candidates)
    now = timezone.now()
    reported = 0
    for node_id, dag_id, action, start_time, servers in candidates:
        known = usual[(action, servers)]
        if known is None or known.samples < durations.MIN_SAMPLES:
            continue
        if (now - start_time).total_seconds() <= stall_threshold(known):
            continue
        if report_stall(node_id=node_id, dag_id=dag_id, start_time=start_time, usual=known):
            reported += 1
    return reported


def report_stall(*, node_id: int, dag_id: int, start_time: datetime, usual: durations.UsualDuration) -> bool:
    """Mark the node stalled and append its node.stalled event, once for this run of the node."""
    with transaction.atomic():
        lock_dag(dag_id)
        now = timezone.now()
        marked = (
            Node.objects.filter(pk=node_id, state=State.RUNNING, start_time=start_time)
            .filter(durations.stalled_filter())
            .update(stalled_at=now)
        )
        if not marked:
            return False
        node = Node.objects.select_related("dag").get(pk=node_id)
        payload = durations.stall_payload(node, servers=node.dag.server_count, usual=usual, now=now)
        emit(dag_id, DagEvent.Kind.NODE_STALLED, payload)
    logger.warning(
        "dag %s node %s (%s) stalled: running %.0fs, usually %.0fs",
        dag_id,
        node_id,
        node.action,
        payload["running_seconds"],
        usual.median_seconds,
    )
    return True


periodic.register("refresh-step-durations", REFRESH_EVERY, durations.refresh_step_durations)
periodic.register("detect-stalled-nodes", DETECT_EVERY, detect_stalled_nodes)
