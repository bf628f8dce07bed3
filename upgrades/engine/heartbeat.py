"""The worker registry: each group of worker threads (the embedded threads of a web process, a `run_worker`
process, an in-process runner) keeps one WorkerHeartbeat row fresh while it works, and deletes it when it
stops cleanly. Its workers' lease owners start with the row's ident, so /workers/ reads what each group
holds from the sub-task leases themselves."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from typing import Literal

from django.utils import timezone

from upgrades.engine.transitions import lease_seconds
from upgrades.models import WorkerHeartbeat
from upgrades.operations.selectors import forget_after

logger = logging.getLogger(__name__)


def beat_interval() -> float:
    return lease_seconds() / 3


class WorkerGroup:
    def __init__(self, *, kind: Literal["embedded", "process"], threads: int = 1) -> None:
        self.host = socket.gethostname()[:64]
        self.pid = os.getpid()
        self.ident = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"
        self.kind = kind
        self.threads = threads
        self.started_at = timezone.now()
        self._lock = threading.Lock()
        self._last_beat: float | None = None

    def owner_for(self, name: str) -> str:
        """A lease owner for one worker of this group: unique per Worker object, prefixed with the ident."""
        return f"{self.ident}:{name}:{uuid.uuid4().hex[:8]}"

    def beat(self, *, force: bool = False) -> bool:
        """Refresh the row (create it if missing), at most once per beat interval across the group's
        threads; True if this call wrote it."""
        if not self._lock.acquire(blocking=False):
            return False  # another thread of the group is beating now
        try:
            now = time.monotonic()
            if not force and self._last_beat is not None and now - self._last_beat < beat_interval():
                return False
            updated = WorkerHeartbeat.objects.filter(ident=self.ident).update(
                last_beat_at=timezone.now(), threads=self.threads
            )
            if not updated:
                WorkerHeartbeat.objects.create(
                    ident=self.ident,
                    host=self.host,
                    pid=self.pid,
                    kind=self.kind,
                    threads=self.threads,
                    started_at=self.started_at,
                )
            self._last_beat = now
            return True
        finally:
            self._lock.release()

    def stop(self) -> None:
        """A clean stop: the row goes away (a crash leaves it to go stale)."""
        try:
            WorkerHeartbeat.objects.filter(ident=self.ident).delete()
        except Exception:
            logger.exception("worker group %s: could not remove its heartbeat row", self.ident)


def forget_stale_workers() -> int:
    """Periodic job: delete heartbeat rows silent for FORGET_AFTER_LEASES leases (killed processes)."""
    deleted, _ = WorkerHeartbeat.objects.filter(last_beat_at__lt=timezone.now() - forget_after()).delete()
    return deleted
