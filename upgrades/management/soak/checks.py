"""The soak's verdicts, as pure functions over plain facts (no database, no sockets), so each can be shown to
fail on crafted bad data (tests/operations/test_soak_checks.py).

- `execution_overlaps`: no two executions of one sub-task at the same time. An execution whose process died
  (`ended_at` None) ends when its process was killed; one that is open while its process lived never ended.
- `illegal_continues`: a sub-task whose node cannot continue runs each phase of an attempt at most once. obshell
  (and upgrades.engine.transitions.subtask_interrupt) fails such a sub-task with `task unexpectedly interrupted
  and cannot continue` instead of re-entering it; only an operator's RETRY (a new attempt) runs it again. The one
  exception is the engine's own re-run, by the same worker thread, of a step a database error stopped before it
  applied any effect (`outage_rerun`): its executor never went away.
- `unexplained_failure`: a DAG may end FAILED only where obshell's rules put it. With no injected step faults, the
  one rule that fails a step is the interrupt rule: a sub-task of a node that cannot continue, FAILED with
  INTERRUPTED_LINE, whose executor died (the process that ran its last execution of that attempt was killed
  after that execution started, mid-step or before the engine recorded the step's end; or, with no execution
  recorded, a worker was killed while the attempt was claimed).
- `stream_problems`: the database's event stream of a DAG is gapless (seq 1..last_seq) and a watcher received
  every event, once, in order, with the database's kind and payload.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

INTERRUPTED_LINE = "task unexpectedly interrupted and cannot continue"


@dataclass(frozen=True)
class Violation:
    kind: str  # overlap, illegal-continue, open-execution, unexplained-failure, unfinished, gap, missed, mismatch...
    dag_id: int | None
    detail: str

    def __str__(self) -> str:
        where = f"dag {self.dag_id}: " if self.dag_id is not None else ""
        return f"[{self.kind}] {where}{self.detail}"


@dataclass(frozen=True)
class Execution:
    id: int
    sub_task_id: int
    dag_id: int
    attempt: int
    phase: str
    host: str
    pid: int
    started_at: datetime
    ended_at: datetime | None
    outcome: str = ""
    owner: str = ""  # the worker thread (lease owner) that ran it


# What a step that stopped on a database error reports (the exception's class name).
DATABASE_ERRORS = frozenset({"OperationalError", "InterfaceError"})


@dataclass(frozen=True)
class Death:
    """A process the soak killed (or had to kill when stopping it)."""

    host: str
    pid: int
    at: datetime


@dataclass(frozen=True)
class FailedSubTask:
    id: int
    dag_id: int
    name: str
    can_continue: bool
    attempt: int  # execute_times
    start_time: datetime
    end_time: datetime
    last_line: str  # the attempt's last log line


def death_times(deaths: Iterable[Death]) -> dict[tuple[str, int], datetime]:
    """(host, pid) -> when it was killed (pids are not reused within a soak often, but take the first kill)."""
    times: dict[tuple[str, int], datetime] = {}
    for death in sorted(deaths, key=lambda d: d.at):
        times.setdefault((death.host, death.pid), death.at)
    return times


def execution_overlaps(executions: Iterable[Execution], deaths: Iterable[Death]) -> list[Violation]:
    died = death_times(deaths)
    by_sub_task: dict[int, list[Execution]] = defaultdict(list)
    for execution in executions:
        by_sub_task[execution.sub_task_id].append(execution)
    violations = []
    for sub_task_id, runs in by_sub_task.items():
        runs.sort(key=lambda e: (e.started_at, e.id))
        latest: Execution | None = None  # the execution that ends last among those started so far
        latest_end: datetime | None = None
        for run in runs:
            end = _effective_end(run, died)
            if end is None:
                violations.append(
                    Violation(
                        "open-execution",
                        run.dag_id,
                        f"sub-task {sub_task_id} attempt {run.attempt} ({run.phase}) on {run.host}:{run.pid} never "
                        "ended, and its process was not killed",
                    )
                )
            if latest is not None and (latest_end is None or run.started_at < latest_end):
                violations.append(
                    Violation(
                        "overlap",
                        run.dag_id,
                        f"sub-task {sub_task_id}: attempt {run.attempt} ({run.phase}) started on {run.host}:{run.pid} "
                        f"at {run.started_at.isoformat()} while attempt {latest.attempt} ({latest.phase}) on "
                        f"{latest.host}:{latest.pid} ran until "
                        f"{latest_end.isoformat() if latest_end else 'never ended'}",
                    )
                )
            if latest is None or (latest_end is not None and (end is None or end > latest_end)):
                latest, latest_end = run, end
    return violations


def _effective_end(execution: Execution, died: Mapping[tuple[str, int], datetime]) -> datetime | None:
    if execution.ended_at is not None:
        return execution.ended_at
    killed = died.get((execution.host, execution.pid))
    if killed is not None and killed >= execution.started_at:
        return killed
    return None


def outage_rerun(previous: Execution, following: Execution) -> bool:
    """The engine's own re-run of a step a database error stopped before it applied any effect (OUTAGE_RERUNS in
    upgrades/engine/executor.py): the same worker thread runs it again at once, in the same attempt. Its executor
    never went away, so this is not obshell's continue."""
    return (
        previous.outcome in DATABASE_ERRORS
        and previous.owner == following.owner != ""
        and (
            previous.host,
            previous.pid,
        )
        == (following.host, following.pid)
    )


def illegal_continues(executions: Iterable[Execution], can_continue: Mapping[int, bool]) -> list[Violation]:
    """can_continue: sub-task id -> its node's can_continue flag."""
    counted: dict[tuple[int, int, str], list[Execution]] = defaultdict(list)
    for execution in executions:
        if not can_continue.get(execution.sub_task_id, False):
            counted[(execution.sub_task_id, execution.attempt, execution.phase)].append(execution)
    violations = []
    for (sub_task_id, attempt, phase), runs in counted.items():
        runs.sort(key=lambda e: (e.started_at, e.id))
        runs = [runs[0], *(run for before, run in zip(runs, runs[1:], strict=False) if not outage_rerun(before, run))]
        if len(runs) > 1:
            first = runs[0]
            how = "was interrupted" if first.ended_at is None or first.outcome not in ("ok", "failed") else "had ended"
            violations.append(
                Violation(
                    "illegal-continue",
                    first.dag_id,
                    f"sub-task {sub_task_id} cannot continue, yet attempt {attempt} ({phase}) ran {len(runs)} times "
                    f"(the first {how}: {first.outcome or 'process died'})",
                )
            )
    return violations


def unexplained_failure(
    failed: Sequence[FailedSubTask], executions: Iterable[Execution], deaths: Iterable[Death]
) -> list[Violation]:
    """The FAILED sub-tasks of a FAILED DAG's failed node, each explained by the interrupt rule or a violation."""
    deaths = list(deaths)
    died = death_times(deaths)
    by_attempt: dict[tuple[int, int], list[Execution]] = defaultdict(list)
    for execution in executions:
        by_attempt[(execution.sub_task_id, execution.attempt)].append(execution)
    violations = []
    if not failed:
        return [Violation("unexplained-failure", None, "a FAILED DAG whose failed node has no FAILED sub-task")]
    for sub_task in failed:
        why = _why_not_explained(sub_task, by_attempt.get((sub_task.id, sub_task.attempt), []), died, deaths)
        if why:
            violations.append(
                Violation("unexplained-failure", sub_task.dag_id, f"sub-task {sub_task.id} ({sub_task.name}): {why}")
            )
    return violations


def _why_not_explained(
    sub_task: FailedSubTask,
    runs: list[Execution],
    died: Mapping[tuple[str, int], datetime],
    deaths: Sequence[Death],
) -> str:
    if sub_task.last_line != INTERRUPTED_LINE:
        return f"failed with {sub_task.last_line!r}, and no fault was injected into its steps"
    if sub_task.can_continue:
        return "failed as interrupted although its node can continue (it should have been re-entered)"
    if runs:
        last = max(runs, key=lambda e: (e.started_at, e.id))
        killed = died.get((last.host, last.pid))
        # Killed mid-step, or after the step's body returned but before the engine recorded its end: either way
        # the sub-task was still RUNNING under that executor's lease when it died.
        if killed is not None and last.started_at <= killed <= sub_task.end_time:
            return ""
        ran = f"ran from +{_since(sub_task.start_time, last.started_at)}" + (
            f" to +{_since(sub_task.start_time, last.ended_at)}" if last.ended_at else ""
        )
        return (
            f"interrupted, but its last execution on {last.host}:{last.pid} "
            f"{'ended ' + (last.outcome or '?') if last.ended_at else 'is open'} and that process was not killed "
            f"(claimed at {sub_task.start_time.isoformat()}, {ran}, interrupted at "
            f"+{_since(sub_task.start_time, sub_task.end_time)})"
        )
    if any(sub_task.start_time <= death.at <= sub_task.end_time for death in deaths):
        return ""  # killed between its claim and its first record
    return "interrupted without any execution, and no worker was killed while it was claimed"


def _since(start: datetime, moment: datetime) -> str:
    return f"{(moment - start).total_seconds():.2f}s"


def payload_digest(kind: str, payload: object) -> str:
    """The same digest for an event from the database and from a socket frame (JSON text or decoded)."""
    if isinstance(payload, str | bytes):
        payload = json.loads(payload)
    text = json.dumps([kind, payload], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


@dataclass
class Received:
    """What one watcher got for one DAG: every event frame in arrival order (seq, digest), and the problems the
    watcher saw as they happened (a frame out of order, a snapshot instead of events, an error frame)."""

    dag_id: int
    events: list[tuple[int, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def stream_problems(
    dag_id: int, last_seq: int, database: Sequence[tuple[int, str]], received: Received
) -> list[Violation]:
    """database: the DAG's (seq, digest) rows in seq order."""
    violations = []
    seqs = [seq for seq, _ in database]
    if seqs != list(range(1, len(seqs) + 1)) or len(seqs) != last_seq:
        violations.append(
            Violation("db-gap", dag_id, f"the database holds seqs {_ranges(seqs)} but last_seq is {last_seq}")
        )
    for problem in received.problems:
        violations.append(Violation("watcher", dag_id, problem))
    expected = dict(database)
    seen: dict[int, str] = {}
    previous = 0
    for seq, digest in received.events:
        if seq in seen:
            if seen[seq] != digest:
                violations.append(Violation("mismatch", dag_id, f"seq {seq} arrived twice with different content"))
            continue
        if seq != previous + 1:
            violations.append(Violation("gap", dag_id, f"seq {seq} arrived after seq {previous}"))
        previous = max(previous, seq)
        seen[seq] = digest
        if seq in expected and expected[seq] != digest:
            violations.append(Violation("mismatch", dag_id, f"seq {seq} differs from the database's event"))
        if seq not in expected:
            violations.append(Violation("phantom", dag_id, f"seq {seq} arrived but is not in the database"))
    missed = [seq for seq in seqs if seq not in seen]
    if missed:
        violations.append(Violation("missed", dag_id, f"{len(missed)} events never received: seqs {_ranges(missed)}"))
    return violations


def _ranges(seqs: Sequence[int]) -> str:
    if not seqs:
        return "none"
    parts = []
    start = prev = seqs[0]
    for seq in list(seqs[1:]) + [None]:
        if seq is not None and seq == prev + 1:
            prev = seq
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if seq is not None:
            start = prev = seq
    shown = ", ".join(parts[:6])
    return shown + (f" and {len(parts) - 6} more ranges" if len(parts) > 6 else "")
