"""Reading every log of one run at once: search across its sub-tasks and attempts, the window around one
line (for #log-<id> deep links), and the whole run as a zip of one file per sub-task attempt.

Each works on the TaskLog rows, or on a pruned run's archive (upgrades/operations/archive.py), and is bounded:
a search returns at most SEARCH_LIMIT hits and scans at most ARCHIVE_SCAN_LINES archived lines; the zip is
written while it is sent (a generator of chunks), so memory holds a chunk of rows, not the run's logs.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.utils.text import slugify

from upgrades.models import Dag, Node, SubTask, TaskLog
from upgrades.operations import archive

SEARCH_LIMIT = 200
QUERY_MAX_CHARS = 200
# A hit's line is cut to this many characters around its first match.
HIT_CONTEXT_CHARS = 400
ARCHIVE_SCAN_LINES = 500_000
LINE_WINDOW = 200
_ZIP_CHUNK_ROWS = 2000


class LogLine(Protocol):
    """A TaskLog row or an archived line (archive.ArchivedLog): the fields every reader here uses."""

    @property
    def id(self) -> int: ...
    @property
    def sub_task_id(self) -> int: ...
    @property
    def execute_times(self) -> int: ...
    @property
    def phase(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def level(self) -> str: ...
    @property
    def text(self) -> str: ...


def line_text(line: LogLine) -> str:
    """The line as obshell's task_logs shows it (TaskLog.line): errors and warnings prefixed."""
    return line.text if line.level == TaskLog.Level.INFO else f"{line.level}: {line.text}"


@dataclass(frozen=True)
class LogHit:
    id: int
    sub_task_id: int
    node_id: int
    node_seq: int
    node_name: str
    agent: str
    execute_times: int
    phase: str
    level: str
    created_at: datetime
    # The line cut around its matches, as (text, is_match) pieces for the page to mark.
    pieces: tuple[tuple[str, bool], ...]


@dataclass(frozen=True)
class LogSearch:
    query: str
    hits: list[LogHit]
    # More lines matched than SEARCH_LIMIT (or the archive scan stopped): the page says so.
    truncated: bool


def _pieces(text: str, pattern: re.Pattern[str]) -> tuple[tuple[str, bool], ...]:
    first = pattern.search(text)
    start = 0
    if first is not None and len(text) > HIT_CONTEXT_CHARS:
        start = max(0, min(first.start() - HIT_CONTEXT_CHARS // 4, len(text) - HIT_CONTEXT_CHARS))
    cut = text[start : start + HIT_CONTEXT_CHARS]
    pieces: list[tuple[str, bool]] = [("…", False)] if start else []
    at = 0
    for match in pattern.finditer(cut):
        if match.start() > at:
            pieces.append((cut[at : match.start()], False))
        pieces.append((match.group(0), True))
        at = match.end()
    if at < len(cut):
        pieces.append((cut[at:], False))
    if start + HIT_CONTEXT_CHARS < len(text):
        pieces.append(("…", False))
    return tuple(pieces)


def _sub_tasks(dag_id: int) -> dict[int, tuple[Node, SubTask]]:
    rows = (
        SubTask.objects.filter(dag_id=dag_id)
        .select_related("node")
        .only("id", "agent_ip", "agent_port", "node__id", "node__seq", "node__name")
    )
    return {sub_task.pk: (sub_task.node, sub_task) for sub_task in rows}


def _archived(dag_id: int) -> bool:
    return not TaskLog.objects.filter(sub_task__dag_id=dag_id).exists() and bool(archive.archived_dag_ids([dag_id]))


def search_run_logs(dag_id: int, query: str, *, limit: int = SEARCH_LIMIT) -> LogSearch:
    """Lines of every sub-task and attempt of the run containing `query` (case-insensitive), oldest first."""
    query = query.strip()[:QUERY_MAX_CHARS]
    if not query:
        return LogSearch(query, [], False)
    pattern = re.compile(re.escape(query), re.IGNORECASE)
    lines: list[LogLine]
    truncated = False
    if _archived(dag_id):
        lines = []
        for scanned, archived_line in enumerate(archive.archived_logs(dag_id), start=1):
            if scanned > ARCHIVE_SCAN_LINES:
                truncated = True
                break
            if pattern.search(archived_line.text):
                lines.append(archived_line)
                if len(lines) > limit:
                    break
    else:
        lines = list(TaskLog.objects.filter(sub_task__dag_id=dag_id, text__icontains=query).order_by("id")[: limit + 1])
    if len(lines) > limit:
        truncated = True
        lines = lines[:limit]
    owners = _sub_tasks(dag_id)
    hits = []
    for line in lines:
        node, sub_task = owners[line.sub_task_id]
        hits.append(
            LogHit(
                id=line.id,
                sub_task_id=line.sub_task_id,
                node_id=node.pk,
                node_seq=node.seq,
                node_name=node.name,
                agent=f"{sub_task.agent_ip}:{sub_task.agent_port}",
                execute_times=line.execute_times,
                phase=line.phase,
                level=line.level,
                created_at=line.created_at,
                pieces=_pieces(line_text(line), pattern),
            )
        )
    return LogSearch(query, hits, truncated)


@dataclass(frozen=True)
class LineWindow:
    """One line's place in the run and the lines around it (same sub-task, every attempt), oldest first."""

    log_id: int
    sub_task_id: int
    node_id: int
    lines: list[LogLine]
    # The window reaches the sub-task's first / last line.
    at_start: bool
    at_end: bool


def line_window(dag_id: int, log_id: int, *, around: int = LINE_WINDOW) -> LineWindow | None:
    """The line `log_id` of this run with up to `around` lines of its sub-task before and after it; None
    when the run has no such line."""
    row = TaskLog.objects.filter(pk=log_id, sub_task__dag_id=dag_id).select_related("sub_task").first()
    if row is not None:
        lines_of = TaskLog.objects.filter(sub_task_id=row.sub_task_id)
        before = list(lines_of.filter(id__lt=log_id).order_by("-id")[: around + 1])
        after = list(lines_of.filter(id__gt=log_id).order_by("id")[: around + 1])
        window: list[LogLine] = [*reversed(before[:around]), row, *after[:around]]
        return LineWindow(
            log_id, row.sub_task_id, row.sub_task.node_id, window, len(before) <= around, len(after) <= around
        )
    if not _archived(dag_id):
        return None
    target: LogLine | None = None
    earlier: list[LogLine] = []
    later: list[LogLine] = []
    for line in archive.archived_logs(dag_id):
        if target is None:
            if line.id == log_id:
                target = line
                earlier = [kept for kept in earlier if kept.sub_task_id == line.sub_task_id][-(around + 1) :]
            else:
                earlier.append(line)
                if len(earlier) > 4 * (around + 1):
                    earlier = earlier[-2 * (around + 1) :]
        elif line.sub_task_id == target.sub_task_id:
            later.append(line)
            if len(later) > around:
                break
    if target is None:
        return None
    node_id = SubTask.objects.filter(pk=target.sub_task_id).values_list("node_id", flat=True).first()
    if node_id is None:
        return None
    window = [*earlier[-around:], target, *later[:around]]
    return LineWindow(log_id, target.sub_task_id, node_id, window, len(earlier) <= around, len(later) <= around)


# ---------- the zip ----------


class _Sink:
    """A write-only stream for zipfile: it keeps what was written until the generator hands it on."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview, /) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> bytes:
        data = b"".join(self.parts)
        self.parts.clear()
        return data


def _file_name(dag: Dag, node: Node, sub_task: SubTask, execute_times: int, phase: str) -> str:
    stage = f"{node.seq:02d}-{slugify(node.name)[:60] or 'stage'}"
    agent = f"{sub_task.agent_ip}_{sub_task.agent_port}".replace(":", "_")
    attempt = f"attempt-{execute_times}" + ("-rollback" if phase == TaskLog.Phase.ROLLBACK else "")
    return f"run-{dag.pk}/{stage}/{agent}-subtask-{sub_task.generic_id}-{attempt}.log"


def _groups(lines: Iterable[LogLine]) -> Iterator[tuple[tuple[int, str], list[LogLine]]]:
    """Consecutive lines of one (attempt, phase), in chunks of at most _ZIP_CHUNK_ROWS."""
    key = (0, "")
    chunk: list[LogLine] = []
    for line in lines:
        current = (line.execute_times, line.phase)
        if chunk and (current != key or len(chunk) >= _ZIP_CHUNK_ROWS):
            yield key, chunk
            chunk = []
        key = current
        chunk.append(line)
    if chunk:
        yield key, chunk


def run_logs_zip(dag: Dag) -> Iterator[bytes]:
    """The run's logs as a zip, produced piece by piece: one file per sub-task attempt (and per rollback of
    an attempt), under run-<dag_id>/<seq>-<stage>/, plus run-<dag_id>/run.txt naming the run."""
    sink = _Sink()
    archived = _archived(dag.pk)
    sub_tasks = list(SubTask.objects.filter(dag=dag).select_related("node").order_by("node__seq", "id"))
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_DEFLATED) as bundle:
        about = (
            f"run {dag.pk} (obshell generic id {dag.generic_id}"
            + (f", agent's id {dag.remote_dag_id}" if dag.remote_dag_id else "")
            + f")\n{dag.name}\ncluster {dag.cluster.name}\n{dag.from_version} -> {dag.to_version}\n"
            f"state {dag.state}\nstages {len({s.node_id for s in sub_tasks})}, sub-tasks {len(sub_tasks)}\n"
        )
        bundle.writestr(f"run-{dag.pk}/run.txt", about)
        yield sink.take()
        for sub_task in sub_tasks:
            lines: Iterable[LogLine]
            if archived:
                lines = archive.archived_logs(dag.pk, sub_task_ids=[sub_task.pk])
            else:
                lines = (
                    TaskLog.objects.filter(sub_task=sub_task)
                    .order_by("execute_times", "phase", "id")
                    .iterator(chunk_size=_ZIP_CHUNK_ROWS)
                )
            written: dict[str, int] = {}
            entry = None
            entry_key: tuple[int, str] | None = None
            for key, chunk in _groups(lines):
                if key != entry_key:
                    if entry is not None:
                        entry.close()
                    name = _file_name(dag, sub_task.node, sub_task, *key)
                    written[name] = written.get(name, 0) + 1
                    if written[name] > 1:  # an archived attempt seen again after another one
                        name = name.removesuffix(".log") + f"-part{written[name]}.log"
                    info = zipfile.ZipInfo(name, date_time=_zip_time(chunk[0].created_at))
                    info.compress_type = zipfile.ZIP_DEFLATED
                    entry = bundle.open(info, mode="w")
                    entry_key = key
                assert entry is not None
                entry.write(
                    "".join(f"{line.created_at.isoformat()} {line_text(line)}\n" for line in chunk).encode("utf-8")
                )
                yield sink.take()
            if entry is not None:
                entry.close()
                yield sink.take()
    yield sink.take()


def _zip_time(moment: datetime) -> tuple[int, int, int, int, int, int]:
    year = max(moment.year, 1980)
    return (year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
