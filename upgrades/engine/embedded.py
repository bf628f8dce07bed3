"""Worker threads inside the web server process (the embedded profile, EMBEDDED_WORKER=1).

dashboard/asgi.py wraps the application with with_embedded_workers(). That only arms the start: the
threads begin with the first connection the process serves, HTTP or websocket (after a restart, the
browsers reconnecting by themselves are enough to resume a run). Importing the application (tests,
tools, `manage.py` commands) therefore never runs DAGs in the background, possibly on a database that is
not the one the caller is about to use.
"""

from __future__ import annotations

import atexit
import logging
import threading
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connections

from upgrades.engine.heartbeat import WorkerGroup
from upgrades.engine.mirror import start_mirror_runner
from upgrades.engine.worker import Worker

if TYPE_CHECKING:
    from asgiref.typing import ASGI3Application, ASGIReceiveCallable, ASGISendCallable, Scope

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_stop = threading.Event()
_threads: list[threading.Thread] = []
_mirror: list[threading.Thread] = []  # the process's mirror loops (real clusters), beside the worker threads
# The process's one heartbeat row for all its embedded threads (replacements included).
_group: WorkerGroup | None = None


def with_embedded_workers(app: ASGI3Application) -> ASGI3Application:
    """Wrap an ASGI app so the embedded workers (when EMBEDDED_WORKER is on) start with its first connection."""

    async def start_then_serve(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
        if scope["type"] in ("http", "websocket") and not _threads and settings.EMBEDDED_WORKER:
            run_embedded_workers()
        return await app(scope, receive, send)

    return start_then_serve


def run_embedded_workers() -> list[threading.Thread]:
    """Start settings.EMBEDDED_WORKER_THREADS worker threads now, once per process."""
    global _group
    with _lock:
        if _threads:
            return list(_threads)
        _group = WorkerGroup(kind="embedded", threads=settings.EMBEDDED_WORKER_THREADS)
        for index in range(settings.EMBEDDED_WORKER_THREADS):
            _start_thread(index)
        _mirror.append(start_mirror_runner(owner=_group.owner_for("mirror"), stop_event=_stop))
        atexit.register(stop_embedded_workers)
        return list(_threads)


def _start_thread(index: int) -> None:
    thread = threading.Thread(target=_run, args=(index,), name=f"embedded-worker-{index}", daemon=True)
    _threads.append(thread)
    thread.start()


def _run(index: int) -> None:
    try:
        worker = Worker(name=f"embedded-{index}", crash_mode="thread", stop_event=_stop, group=_group)
        finished_cleanly = worker.run_forever()
    finally:
        connections.close_all()
    if not finished_cleanly and not _stop.is_set():
        # An injected crash stopped this thread and abandoned its lease; a fresh thread takes its place,
        # as a process manager would restart a crashed worker.
        logger.warning("embedded worker %s crashed; starting a replacement", index)
        with _lock:
            if threading.current_thread() in _threads:
                _threads.remove(threading.current_thread())
            _start_thread(index)


def stop_embedded_workers(timeout: float = 5.0) -> None:
    """Stop the threads; a sub-task they were running is handed back under obshell's continue rule. The
    heartbeat row goes with them."""
    global _group
    _stop.set()
    for thread in list(_threads) + _mirror:
        thread.join(timeout)
    _threads.clear()
    _mirror.clear()
    _stop.clear()
    if _group is not None:
        _group.stop()
        _group = None
