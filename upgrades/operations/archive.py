"""The archive of a long-finished run's events and task logs (RunArchive), written by `manage.py prune`
(upgrades/services/retention.py) and read wherever the rows were read, so the run page, the live replay and
the API show a pruned run in full.

Readers look at the rows first and at the archive only when the rows they need are absent: the archive is
written in the transaction that deletes the rows, so a reader sees one or the other, never neither; a live
run (whose rows are present) costs no extra query. Archives are streamed (zstandard, JSON lines): reading one
sub-task's lines of a large run decompresses the run once and keeps only that sub-task's lines.
"""

from __future__ import annotations

import io
import json
from collections import deque
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime

import zstandard
from django.db.models import TextField
from django.db.models.functions import Cast

from upgrades.models import DagEvent, RunArchive, TaskLog

CHUNK_ROWS = 2000
COMPRESSION_LEVEL = 9


@dataclass(frozen=True)
class ArchivedLog:
    """A TaskLog line read back from an archive, with the attributes readers use of a TaskLog row."""

    id: int
    sub_task_id: int
    execute_times: int
    phase: str
    created_at: datetime
    level: str
    text: str

    @property
    def pk(self) -> int:
        return self.id

    @property
    def line(self) -> str:
        return self.text if self.level == TaskLog.Level.INFO else f"{self.level}: {self.text}"


@dataclass(frozen=True)
class PackedRun:
    events: bytes
    logs: bytes
    event_count: int
    log_count: int
    last_seq: int
    raw_bytes: int


class _Packer:
    """JSON lines into one zstandard frame, compressed as they come (memory: the compressed output)."""

    def __init__(self) -> None:
        self.out = io.BytesIO()
        self.compressor = zstandard.ZstdCompressor(level=COMPRESSION_LEVEL).compressobj()
        self.count = 0
        self.raw = 0

    def add(self, line: str) -> None:
        data = line.encode() + b"\n"
        self.raw += len(data)
        self.count += 1
        self.out.write(self.compressor.compress(data))

    def finish(self) -> bytes:
        self.out.write(self.compressor.flush())
        return self.out.getvalue()


def event_frame_text(dag_id: int, seq: int, kind: str, at: datetime, payload_text: str) -> str:
    """The websocket "event" frame of one event (upgrades.events.event_message's shape), with the payload as the
    JSON text the database holds: what the live replay sends, and one line of an archive."""
    return (
        f'{{"type": "event", "dag_id": {int(dag_id)}, "seq": {seq}, "kind": {json.dumps(kind)}, '
        f'"at": "{at.isoformat()}", "payload": {payload_text}}}'
    )


def pack_run(dag_id: int) -> PackedRun:
    """Read a run's events and log lines in chunks and compress them (call inside the pruning transaction)."""
    events = _Packer()
    last_seq = 0
    rows = (
        DagEvent.objects.filter(dag_id=dag_id)
        .order_by("seq")
        .annotate(payload_text=Cast("payload", TextField()))
        .values_list("seq", "kind", "at", "payload_text")
    )
    for seq, kind, at, payload_text in rows.iterator(chunk_size=CHUNK_ROWS):
        events.add(event_frame_text(dag_id, seq, kind, at, payload_text))
        last_seq = seq
    logs = _Packer()
    log_rows = (
        TaskLog.objects.filter(sub_task__dag_id=dag_id)
        .order_by("id")
        .values_list("id", "sub_task_id", "execute_times", "phase", "created_at", "level", "text")
    )
    for pk, sub_task_id, execute_times, phase, created_at, level, text in log_rows.iterator(chunk_size=CHUNK_ROWS):
        logs.add(
            json.dumps(
                {
                    "id": pk,
                    "sub_task_id": sub_task_id,
                    "execute_times": execute_times,
                    "phase": phase,
                    "created_at": created_at.isoformat(),
                    "level": level,
                    "text": text,
                },
                ensure_ascii=False,
            )
        )
    return PackedRun(
        events=events.finish(),
        logs=logs.finish(),
        event_count=events.count,
        log_count=logs.count,
        last_seq=last_seq,
        raw_bytes=events.raw + logs.raw,
    )


def _lines(blob: bytes | memoryview) -> Iterator[str]:
    reader = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(bytes(blob)))
    yield from io.TextIOWrapper(reader, encoding="utf-8")


def _blob(dag_id: int, field: str) -> bytes | memoryview | None:
    return RunArchive.objects.filter(dag_id=dag_id).values_list(field, flat=True).first()


def archived_dag_ids(dag_ids: Collection[int]) -> set[int]:
    if not dag_ids:
        return set()
    return set(RunArchive.objects.filter(dag_id__in=list(dag_ids)).values_list("dag_id", flat=True))


def archived_event_frames(dag_id: int, after_seq: int, *, up_to: int | None = None) -> list[tuple[int, str]]:
    """(seq, frame text) of the archived events with after_seq < seq <= up_to; [] when not archived."""
    blob = _blob(dag_id, "events")
    if blob is None:
        return []
    frames = []
    for text in _lines(blob):
        seq = json.loads(text)["seq"]
        if seq <= after_seq:
            continue
        if up_to is not None and seq > up_to:
            break
        frames.append((seq, text.rstrip("\n")))
    return frames


def _log(text: str) -> ArchivedLog:
    row = json.loads(text)
    return ArchivedLog(
        id=row["id"],
        sub_task_id=row["sub_task_id"],
        execute_times=row["execute_times"],
        phase=row["phase"],
        created_at=datetime.fromisoformat(row["created_at"]),
        level=row["level"],
        text=row["text"],
    )


def archived_logs(dag_id: int, *, sub_task_ids: Collection[int] | None = None) -> Iterator[ArchivedLog]:
    """The archived log lines of a run (of those sub-tasks), oldest first; nothing when not archived."""
    blob = _blob(dag_id, "logs")
    if blob is None:
        return
    wanted = None if sub_task_ids is None else set(sub_task_ids)
    for text in _lines(blob):
        if wanted is not None:
            # Cheap pre-filter before decoding: every line starts {"id": N, "sub_task_id": M, ...
            head = text[: text.find(', "execute_times"')]
            if int(head.rsplit(" ", 1)[-1]) not in wanted:
                continue
        yield _log(text)


def archived_tail(dag_id: int, sub_task_ids: Collection[int], lines: int) -> dict[int, list[ArchivedLog]]:
    """The last `lines` + 1 archived lines of each of those sub-tasks (bounded memory, oldest first)."""
    tails: dict[int, deque[ArchivedLog]] = {}
    for log in archived_logs(dag_id, sub_task_ids=sub_task_ids):
        tails.setdefault(log.sub_task_id, deque(maxlen=lines + 1)).append(log)
    return {sub_task_id: list(tail) for sub_task_id, tail in tails.items()}
