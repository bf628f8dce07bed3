"""Writing a sub-task's log lines (TaskLog rows) and the log.appended events that carry them, and the
lines obshell writes when a sub-task is stopped from outside."""

from django.utils import timezone

from upgrades.events import emit_events
from upgrades.models import DagEvent, TaskLog
from upgrades.snapshots import log_payload

CANCELLED_LINE = "sub task cancelled"
TIMEOUT_LINE = "sub task timeout"
INTERRUPTED_LINE = "task unexpectedly interrupted and cannot continue"


def write_logs(sub_task, lines, *, phase=TaskLog.Phase.RUN):
    """Insert (level, text) lines for the sub-task's current attempt; returns their log.appended events."""
    if not lines:
        return []
    now = timezone.now()
    logs = TaskLog.objects.bulk_create(
        [
            TaskLog(
                sub_task=sub_task,
                execute_times=sub_task.execute_times,
                phase=phase,
                level=level,
                text=text,
                created_at=now,
            )
            for level, text in lines
        ]
    )
    if any(log.pk is None for log in logs):
        logs = list(TaskLog.objects.filter(sub_task=sub_task).order_by("-id")[: len(logs)])[::-1]
    return [(DagEvent.Kind.LOG_APPENDED, {"log": log_payload(log)}) for log in logs]


def write_logs_many(entries):
    """write_logs for several sub-tasks at once, [(sub_task, lines, phase)], with one INSERT; returns each
    entry's log.appended events, in the same order."""
    now = timezone.now()
    rows = [
        [
            TaskLog(
                sub_task=sub_task,
                execute_times=sub_task.execute_times,
                phase=phase,
                level=level,
                text=text,
                created_at=now,
            )
            for level, text in lines
        ]
        for sub_task, lines, phase in entries
    ]
    flat = TaskLog.objects.bulk_create([log for logs in rows for log in logs])
    if any(log.pk is None for log in flat):
        # A database that cannot return the inserted ids: read them back per sub-task.
        rows = [
            list(TaskLog.objects.filter(sub_task=sub_task).order_by("-id")[: len(logs)])[::-1] if logs else []
            for (sub_task, _, _), logs in zip(entries, rows, strict=True)
        ]
    return [[(DagEvent.Kind.LOG_APPENDED, {"log": log_payload(log)}) for log in logs] for logs in rows]


def append_logs(sub_task, lines, *, phase=TaskLog.Phase.RUN):
    emit_events(sub_task.dag_id, write_logs(sub_task, lines, phase=phase))
