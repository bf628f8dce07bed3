"""The periodic job the workers run (registered in upgrades/engine/worker.py as "notifications"): queue the
deliveries of new events, then, when any is due, wake this process's sender thread. Sending happens in that
thread, never in a worker's own loop, so a slow or silent webhook never delays a step; the thread ends (and
closes its database connection) as soon as nothing is due, and a later run of the job starts it again."""

from __future__ import annotations

import logging
import threading

from django.db import close_old_connections, connection

from upgrades.notifications import outbox, sender

logger = logging.getLogger(__name__)

INTERVAL_SECONDS = 1.0

_lock = threading.Lock()
_thread: threading.Thread | None = None


def notifications() -> int:
    """Queue, then hand due deliveries to the sender thread; returns how many deliveries were queued."""
    queued = outbox.enqueue_new_events()
    if queued or sender.due().exists():
        wake_sender()
    return queued


def wake_sender() -> None:
    global _thread
    with _lock:
        if _thread is not None and _thread.is_alive():
            return
        _thread = threading.Thread(target=_send_until_idle, name="notification-sender", daemon=True)
        _thread.start()


def _send_until_idle() -> None:
    try:
        while sender.deliver_due():
            pass
    except Exception:
        logger.exception("notification sender: error; the next job run starts it again")
    finally:
        close_old_connections()
        connection.close()


def join_sender(timeout: float = 30.0) -> None:
    """Wait for this process's sender thread to end (tests)."""
    thread = _thread
    if thread is not None:
        thread.join(timeout)
