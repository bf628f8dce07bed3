"""Reading what the checks need from the soak's database into the plain facts of `checks`."""

from __future__ import annotations

from collections.abc import Iterable

from upgrades.management.soak.checks import Execution, FailedSubTask, payload_digest
from upgrades.models import DagEvent, ExecutionRecord, SubTask, TaskLog
from upgrades.models.dag import State

CHUNK = 200


def executions(dag_ids: Iterable[int]) -> list[Execution]:
    found = []
    ids = list(dag_ids)
    for start in range(0, len(ids), CHUNK):
        rows = ExecutionRecord.objects.filter(sub_task__dag_id__in=ids[start : start + CHUNK]).values_list(
            "id",
            "sub_task_id",
            "sub_task__dag_id",
            "attempt",
            "phase",
            "host",
            "pid",
            "started_at",
            "ended_at",
            "outcome",
            "owner",
        )
        found += [Execution(*row) for row in rows]
    return found


def can_continue(dag_ids: Iterable[int]) -> dict[int, bool]:
    flags = {}
    ids = list(dag_ids)
    for start in range(0, len(ids), CHUNK):
        rows = SubTask.objects.filter(dag_id__in=ids[start : start + CHUNK]).values_list("id", "node__can_continue")
        flags.update(dict(rows))
    return flags


def failed_sub_tasks(dag_id: int) -> list[FailedSubTask]:
    """The FAILED sub-tasks of a FAILED DAG's current node, each with its attempt's last log line."""
    from upgrades.models import Dag

    dag = Dag.objects.get(pk=dag_id)
    failed = []
    for sub_task in SubTask.objects.filter(dag_id=dag_id, node__seq=dag.stage, state=State.FAILED).select_related(
        "node"
    ):
        last = TaskLog.objects.filter(sub_task=sub_task, execute_times=sub_task.execute_times).order_by("-id").first()
        failed.append(
            FailedSubTask(
                id=sub_task.pk,
                dag_id=dag_id,
                name=sub_task.name,
                can_continue=sub_task.node.can_continue,
                attempt=sub_task.execute_times,
                start_time=sub_task.start_time,
                end_time=sub_task.end_time,
                last_line=last.line if last else "",
            )
        )
    return failed


def event_digests(dag_id: int) -> list[tuple[int, str]]:
    rows = DagEvent.objects.filter(dag_id=dag_id).order_by("seq").values_list("seq", "kind", "payload")
    return [(seq, payload_digest(kind, payload)) for seq, kind, payload in rows]


def sub_task_timeline(sub_task_id: int) -> list[str]:
    """What happened to one sub-task, in time order: its executions and its log lines (every attempt), for the
    soak's violations log."""
    entries = []
    for record in ExecutionRecord.objects.filter(sub_task_id=sub_task_id):
        entries.append(
            (
                record.started_at,
                f"execution of attempt {record.attempt} ({record.phase}) starts on {record.host}:{record.pid} as {record.owner}",
            )
        )
        if record.ended_at is not None:
            entries.append(
                (record.ended_at, f"execution of attempt {record.attempt} ({record.phase}) ends: {record.outcome}")
            )
    for log in TaskLog.objects.filter(sub_task_id=sub_task_id):
        entries.append((log.created_at, f"log (attempt {log.execute_times}, {log.phase}): {log.line}"))
    entries.sort(key=lambda entry: entry[0])
    return [f"{at.isoformat()} {text}" for at, text in entries]
