"""Reads behind the live stream: a DAG snapshot tagged with its seq, events after a seq, log pages."""

from __future__ import annotations

from collections import deque
from typing import Any, Literal, TypedDict

from django.db import transaction
from django.db.models import TextField
from django.db.models.functions import Cast

from upgrades.live.actions import allowed_actions
from upgrades.models import Dag, DagEvent, SubTask, TaskLog
from upgrades.models.dag import State
from upgrades.operations import archive
from upgrades.operations.durations import current_stalls
from upgrades.operations.eta import stage_expectations_of
from upgrades.snapshots import dag_payload, log_payload, node_payload, sub_task_payload

SNAPSHOT_LOG_LINES = 200
LOG_PAGE_LINES = 500

# The payload dicts are upgrades.snapshots' shapes; "actions" is upgrades.live.actions.allowed_actions()'s
# {"retry", "rollback", "cancel", "pass": bool, "pass_node": node id or None}.
Payload = dict[str, Any]
Actions = dict[str, bool | int | list[int] | None]


class DagSnapshot(TypedDict):
    """The websocket "snapshot" frame."""

    type: Literal["snapshot"]
    dag_id: int
    seq: int
    dag: Payload
    nodes: list[Payload]
    sub_tasks: list[Payload]
    logs: list[Payload]
    logs_complete: dict[int, bool]
    actions: Actions
    stalls: list[Payload]
    # {node id: the stage's expected seconds, None without history} (upgrades/operations/eta.py).
    expected: dict[int, float | None]


class LogPage(TypedDict):
    lines: list[Payload]
    more: bool


def dag_snapshot(dag_id: int) -> DagSnapshot | None:
    """The DAG, its nodes and sub-tasks, and the last log lines of running or failed sub-tasks, with the seq
    they reflect; None if there is no such DAG.

    Read in one transaction holding the DAG row: emit() updates that row first, so no event can commit
    between reading the seq and reading the state (SQLite's IMMEDIATE transactions serialize the same way).
    """
    with transaction.atomic():
        dag = Dag.objects.select_for_update().select_related("cluster").filter(pk=dag_id).first()
        if dag is None:
            return None
        nodes = list(dag.nodes.all())
        sub_tasks = list(SubTask.objects.filter(dag=dag))
        logs: list[Payload] = []
        complete: dict[int, bool] = {}
        tails: dict[int, list[Any]] = {}
        for sub_task in sub_tasks:
            if sub_task.state not in (State.RUNNING, State.FAILED):
                continue
            lines = list(TaskLog.objects.filter(sub_task=sub_task).order_by("-id")[: SNAPSHOT_LOG_LINES + 1])
            tails[sub_task.pk] = lines[::-1]
        if dag.is_finished and tails and not any(tails.values()):
            # A pruned run: its lines are in the archive (upgrades.operations.archive).
            tails.update(archive.archived_tail(dag.pk, list(tails), SNAPSHOT_LOG_LINES))
        for sub_task_id, lines in tails.items():
            complete[sub_task_id] = len(lines) <= SNAPSHOT_LOG_LINES
            logs.extend(log_payload(line) for line in lines[-SNAPSHOT_LOG_LINES:])
        return {
            "type": "snapshot",
            "dag_id": dag.pk,
            "seq": dag.last_seq,
            "dag": dag_payload(dag),
            "nodes": [node_payload(node) for node in nodes],
            "sub_tasks": [sub_task_payload(sub_task) for sub_task in sub_tasks],
            "logs": logs,
            "logs_complete": complete,
            "actions": allowed_actions(dag, nodes),
            # Running nodes reported stalled (node.stalled payloads, running_seconds as of now).
            "stalls": current_stalls(nodes, servers=dag.server_count),
            "expected": stage_expectations_of(nodes, servers=dag.server_count),
        }


def latest_seq(dag_id: int) -> int | None:
    return Dag.objects.filter(pk=dag_id).values_list("last_seq", flat=True).first()


def dag_actions(dag_id: int) -> Actions:
    dag = Dag.objects.filter(pk=dag_id).first()
    return allowed_actions(dag) if dag else {}


def event_frames(dag_id: int, after_seq: int, *, up_to: int | None = None) -> list[tuple[int, str]]:
    """Committed events with seq > after_seq (and <= up_to), in seq order, as (seq, JSON text) of the
    websocket "event" frame (the shape of upgrades.events.event_message).

    A resume may read ten thousand events: the payloads are taken as the JSON text the database holds and
    spliced into the frames, instead of being decoded and encoded again.
    """
    events = DagEvent.objects.filter(dag_id=dag_id, seq__gt=after_seq).order_by("seq")
    if up_to is not None:
        events = events.filter(seq__lte=up_to)
    rows = events.annotate(payload_text=Cast("payload", TextField())).values_list("seq", "kind", "at", "payload_text")
    frames = [
        (seq, archive.event_frame_text(dag_id, seq, kind, at, payload_text)) for seq, kind, at, payload_text in rows
    ]
    if frames and frames[0][0] == after_seq + 1:
        return frames
    # Not the next event: the run may be pruned, its events in the archive (rows first, then the archive, so
    # a prune committing in between shows both, merged by seq, never neither).
    archived = archive.archived_event_frames(dag_id, after_seq, up_to=up_to)
    if not archived:
        return frames
    merged = dict(archived)
    merged.update(frames)
    return sorted(merged.items())


def log_page(
    *,
    dag_id: int,
    sub_task_id: int,
    before_id: int | None = None,
    after_id: int | None = None,
    limit: int = LOG_PAGE_LINES,
) -> LogPage | None:
    """Up to `limit` lines of one sub-task (all attempts and phases), oldest first: the newest lines before
    `before_id`, or the oldest after `after_id`, or the newest overall. None if the sub-task is not in the DAG."""
    if not SubTask.objects.filter(pk=sub_task_id, dag_id=dag_id).exists():
        return None
    lines = TaskLog.objects.filter(sub_task_id=sub_task_id)
    if after_id is not None:
        page = list(lines.filter(id__gt=after_id).order_by("id")[: limit + 1])
        more = len(page) > limit
        page = page[:limit]
    else:
        if before_id is not None:
            lines = lines.filter(id__lt=before_id)
        page = list(lines.order_by("-id")[: limit + 1])
        more = len(page) > limit
        page = list(reversed(page[:limit]))
    if not page:
        archived = _archived_log_page(dag_id, sub_task_id, before_id=before_id, after_id=after_id, limit=limit)
        if archived is not None:
            return archived
    return {"lines": [log_payload(line) for line in page], "more": more}


def _archived_log_page(
    dag_id: int, sub_task_id: int, *, before_id: int | None, after_id: int | None, limit: int
) -> LogPage | None:
    """log_page() of a pruned run, read from its archive in bounded memory; None when it has none."""
    if not archive.archived_dag_ids([dag_id]):
        return None
    lines = archive.archived_logs(dag_id, sub_task_ids=[sub_task_id])
    if after_id is not None:
        page = []
        for line in lines:
            if line.id > after_id:
                page.append(line)
                if len(page) > limit:
                    break
        return {"lines": [log_payload(line) for line in page[:limit]], "more": len(page) > limit}
    tail: deque[Any] = deque(maxlen=limit + 1)
    tail.extend(line for line in lines if before_id is None or line.id < before_id)
    more = len(tail) > limit
    return {"lines": [log_payload(line) for line in list(tail)[-limit:]], "more": more}


def sub_task_lines(sub_task: SubTask) -> list[Any]:
    """Every line of a sub-task, oldest first (TaskLog rows, or a pruned run's archived lines)."""
    rows = list(TaskLog.objects.filter(sub_task=sub_task).order_by("id"))
    if not rows and archive.archived_dag_ids([sub_task.dag_id]):
        return list(archive.archived_logs(sub_task.dag_id, sub_task_ids=[sub_task.pk]))
    return rows
