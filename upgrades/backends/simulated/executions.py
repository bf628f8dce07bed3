"""Recording every execution of a simulated step (ExecutionRecord): one INSERT when the step starts, one
UPDATE when it returns or raises, each its own short autocommit outside the engine's transactions, so the
engine's hot path gains two small writes per sub-task and nothing else (SIMULATION_RECORD_EXECUTIONS=0 turns
it off).

`ended_at` stays null when the process dies mid-step (SIGKILL, an injected crash): that is the point. When the
closing UPDATE itself fails (the database connection was cut), the end already measured is kept in this process
and written before its next execution starts, so a soak still sees when the step really ended.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from upgrades.backends.base import StepContext, StepFailed
from upgrades.models import ExecutionRecord

logger = logging.getLogger(__name__)

_HOST = socket.gethostname()[:64]
_unwritten: list[tuple[int, datetime, str]] = []  # (record id, ended_at, outcome) whose UPDATE failed
_unwritten_lock = threading.Lock()


def recording(phase: str) -> Callable:
    """Decorate a backend entry point (`run`, `rollback`) so each call is one ExecutionRecord."""

    def decorate(method: Callable) -> Callable:
        @functools.wraps(method)
        def recorded(backend, ctx: StepContext) -> None:
            if not settings.SIMULATION_RECORD_EXECUTIONS:
                return method(backend, ctx)
            record_id = execution_started(ctx, phase)
            outcome = None
            try:
                method(backend, ctx)
                outcome = ExecutionRecord.OK
            except StepFailed:
                outcome = ExecutionRecord.FAILED
                raise
            except Exception as exc:
                outcome = type(exc).__name__[:64]
                raise
            finally:
                # A BaseException that is not an Exception (an injected crash) leaves the record open, as a
                # killed process does.
                if outcome is not None:
                    execution_ended(record_id, outcome)

        return recorded

    return decorate


def execution_started(ctx: StepContext, phase: str) -> int:
    _write_unwritten()
    sub_task = ctx.sub_task
    record = ExecutionRecord.objects.create(
        sub_task_id=sub_task.pk,
        attempt=sub_task.execute_times,
        phase=phase,
        host=_HOST,
        pid=os.getpid(),
        owner=(sub_task.lease_owner or "")[:128],
        started_at=timezone.now(),
    )
    return record.pk


def execution_ended(record_id: int, outcome: str) -> None:
    ended_at = timezone.now()
    try:
        ExecutionRecord.objects.filter(pk=record_id).update(ended_at=ended_at, outcome=outcome)
    except DatabaseError:
        logger.warning("execution record %s: end not written yet (database unavailable)", record_id)
        with _unwritten_lock:
            _unwritten.append((record_id, ended_at, outcome))


def _write_unwritten() -> None:
    with _unwritten_lock:
        if not _unwritten:
            return
        pending = list(_unwritten)
        _unwritten.clear()
    for index, (record_id, ended_at, outcome) in enumerate(pending):
        try:
            ExecutionRecord.objects.filter(pk=record_id).update(ended_at=ended_at, outcome=outcome)
        except DatabaseError:
            with _unwritten_lock:
                _unwritten.extend(pending[index:])
            raise


@atexit.register
def _write_unwritten_at_exit() -> None:
    """A worker stopping cleanly writes the ends it could not write before (best effort)."""
    with contextlib.suppress(Exception):
        _write_unwritten()
