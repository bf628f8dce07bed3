"""Riding out a database outage (connections cut, the server restarted) without failing a step.

A worker thread keeps its own connection for as long as it lives (no request cycle closes it), so after a
cut every query on it fails until it is closed: `reset_connections()` closes this thread's broken
connections and Django opens a fresh one on the next query. `retry_database(fn)` calls `fn` until it gets
through, backing off from 0.2 s to 5 s (a third of a lease at most); the executor wraps every database touch of a running step in it
(heartbeat, effect, ownership check, finish), so an outage only pauses the step.

Leases expire while nobody can renew them. The worker that first gets through after an outage pushes the
lease reaper's next run a full lease ahead (`after_outage()`, one UPDATE of the reaper's PeriodicJobLease
row, shared by every process), so each running step's worker has a full lease to renew its own before any
reaper may take it: nothing is reaped for the outage itself, only for a worker that really died.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connections

from upgrades.engine import periodic
from upgrades.engine.transitions import lease_seconds

logger = logging.getLogger(__name__)

DATABASE_ERRORS = (OperationalError, InterfaceError)
BACKOFF_MIN = 0.2
BACKOFF_MAX = 5.0


def backoff_max() -> float:
    """The longest wait between tries: 5 s, or a third of a lease if that is shorter, so a step's worker is
    back well within the lease the reaper waits after the outage."""
    return min(BACKOFF_MAX, max(BACKOFF_MIN, lease_seconds() / 3))


REAPER_JOB = "reap-expired-leases"

T = TypeVar("T")


class DatabaseWaitAbandoned(Exception):
    """The worker was asked to stop while waiting for the database to come back."""


def reset_connections() -> None:
    """Close this thread's database connections (outside a transaction) so the next query reconnects."""
    for connection in connections.all(initialized_only=True):
        if connection.in_atomic_block:
            continue
        try:
            connection.close()
        except Exception:
            # A connection whose server is gone can fail to close; forget it so the next query reconnects.
            connection.connection = None


def after_outage() -> None:
    """The database answers again: give every running step's worker a full lease to renew its lease before
    the reaper may run (shared across processes through the reaper's job row)."""
    periodic.defer(REAPER_JOB, lease_seconds())
    logger.warning("database reachable again: the lease reaper waits %.1fs (one lease)", lease_seconds())


def retry_database(fn: Callable[[], T], *, what: str, stop_event: threading.Event | None = None) -> T:
    """`fn()`, called again after each database connection error (connection reset, backoff up to `backoff_max()`) until it gets
    through; DatabaseWaitAbandoned when `stop_event` is set meanwhile."""
    delay = BACKOFF_MIN
    failing_since: float | None = None
    while True:
        try:
            result = fn()
        except DATABASE_ERRORS as exc:
            if failing_since is None:
                failing_since = time.monotonic()
                logger.warning("%s: database unreachable (%s); retrying with backoff", what, str(exc).strip()[:200])
            reset_connections()
            if stop_event is not None:
                if stop_event.wait(delay):
                    raise DatabaseWaitAbandoned(what) from exc
            else:
                time.sleep(delay)
            delay = min(delay * 2, backoff_max())
            continue
        if failing_since is not None:
            logger.warning("%s: database back after %.1fs", what, time.monotonic() - failing_since)
            retry_database(after_outage, what="deferring the reaper", stop_event=stop_event)
        return result
