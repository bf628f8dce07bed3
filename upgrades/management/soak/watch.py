"""Watching DAGs through their websockets as the run page does (static/js/run/socket.js and live_socket.js):
connect to `ws/dags/<id>/?after_seq=<last seq seen>`, take the replay, then one frame per event; after any close
but a refusal, reconnect with the page's backoff (0.5 s doubling to 15 s, +-20 % jitter) and resume from the last
seq; close a socket that has been silent for 2.5 heartbeats. A first connect asks for `after_seq=0`, so every
event of the DAG reaches the watcher as an event frame and can be compared with the database.

The watchers run in one asyncio loop in a thread of their own (`WatchHub`); the soak's driver talks to them
from its thread with `watch()`, `finish()` and `wait_caught_up()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import threading
import time
from dataclasses import dataclass

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from upgrades.management.soak.checks import Received, payload_digest

REFUSALS = {4401: "signed out", 4403: "no role"}
MAX_FRAME = 64 * 1024 * 1024
POLL = 0.25


def backoff_delay(attempt: int) -> float:
    """The run page's reconnect delay before attempt n (static/js/live_socket.js backoffDelay)."""
    return min(15.0, 0.5 * 2 ** min(attempt - 1, 5)) * (0.8 + random.random() * 0.4)


@dataclass
class WatchStats:
    connects: int = 0
    failed_connects: int = 0
    drops: int = 0  # open sockets that closed or went silent before the watcher was done
    event_frames: int = 0
    replayed_events: int = 0
    heartbeats: int = 0


class DagWatcher:
    def __init__(self, dag_id: int, *, ws_base: str, headers: dict[str, str], origin: str, heartbeat: float):
        self.dag_id = dag_id
        self.url = f"{ws_base}/ws/dags/{dag_id}/"
        self.headers = headers
        self.origin = origin
        self.silence = 2.5 * heartbeat
        self.received = Received(dag_id)
        self.seq = 0
        self.target: int | None = None  # the DAG's last seq once it will not change any more
        self.stats = WatchStats()
        self.refused = False
        self.caught_up = threading.Event()

    def done(self) -> bool:
        return self.refused or (self.target is not None and self.seq >= self.target)

    async def run(self, stopping: asyncio.Event) -> None:
        attempt = 0
        while not self.done() and not stopping.is_set():
            opened = False
            try:
                async with connect(
                    f"{self.url}?after_seq={self.seq}",
                    origin=self.origin,  # type: ignore[arg-type]
                    additional_headers=self.headers,
                    open_timeout=10,
                    ping_interval=None,
                    close_timeout=2,
                    max_size=MAX_FRAME,
                    compression=None,
                    proxy=None,
                ) as socket:
                    opened = True
                    attempt = 0
                    self.stats.connects += 1
                    await self._read(socket, stopping)
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd is not None else None
                if code in REFUSALS:
                    self.refused = True
                    self.received.problems.append(f"the socket was refused ({code}: {REFUSALS[code]})")
            except (OSError, TimeoutError, InvalidHandshake, InvalidStatus):
                pass
            if self.done() or stopping.is_set():
                break
            if opened:
                self.stats.drops += 1
            else:
                self.stats.failed_connects += 1
            attempt += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), backoff_delay(attempt))
        if self.done():
            self.caught_up.set()

    async def _read(self, socket, stopping: asyncio.Event) -> None:
        last_frame = time.monotonic()
        while not self.done() and not stopping.is_set():
            try:
                raw = await asyncio.wait_for(socket.recv(), POLL)
            except TimeoutError:
                if time.monotonic() - last_frame > self.silence:
                    return  # half-dead: the page's watchdog closes it and reconnects
                continue
            last_frame = time.monotonic()
            self._frame(raw)

    def _frame(self, raw: str | bytes) -> None:
        try:
            frame = json.loads(raw)
        except ValueError:
            self.received.problems.append(f"a frame that is not JSON: {str(raw)[:80]!r}")
            return
        kind = frame.get("type") if isinstance(frame, dict) else None
        if kind == "event":
            self.stats.event_frames += 1
            self._event(frame)
        elif kind == "replay":
            if frame.get("after_seq") != self.seq:
                self.received.problems.append(f"a replay after seq {frame.get('after_seq')} when {self.seq} was asked")
            for event in frame.get("events", []):
                self.stats.replayed_events += 1
                self._event(event)
        elif kind == "snapshot":
            seq = int(frame.get("seq", 0))
            if seq > self.seq:
                self.received.problems.append(f"a snapshot at seq {seq} stood in for events {self.seq + 1}-{seq}")
                self.seq = seq
        elif kind == "heartbeat":
            self.stats.heartbeats += 1
        elif kind == "error":
            self.received.problems.append(f"an error frame: {frame.get('message')}")

    def _event(self, event: dict) -> None:
        seq = int(event["seq"])
        self.received.events.append((seq, payload_digest(event["kind"], event["payload"])))
        self.seq = max(self.seq, seq)


class WatchHub:
    """Every DAG's watcher, in one event loop on a thread of its own."""

    def __init__(self, *, ws_base: str, session_cookie: str, origin: str, heartbeat: float):
        self.ws_base = ws_base
        self.headers = {"Cookie": session_cookie}
        self.origin = origin
        self.heartbeat = heartbeat
        self.watchers: dict[int, DagWatcher] = {}
        self.loop = asyncio.new_event_loop()
        self._stopping: asyncio.Event | None = None
        self._tasks: set[asyncio.Task] = set()
        self._thread = threading.Thread(target=self._run_loop, name="soak-watchers", daemon=True)
        self._started = threading.Event()

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self.loop)
        self._stopping = asyncio.Event()
        self._started.set()
        self.loop.run_forever()

    def start(self) -> WatchHub:
        self._thread.start()
        self._started.wait()
        return self

    def watch(self, dag_id: int) -> DagWatcher:
        watcher = DagWatcher(
            dag_id, ws_base=self.ws_base, headers=self.headers, origin=self.origin, heartbeat=self.heartbeat
        )
        self.watchers[dag_id] = watcher
        self.loop.call_soon_threadsafe(self._spawn, watcher)
        return watcher

    def _spawn(self, watcher: DagWatcher) -> None:
        assert self._stopping is not None
        task = self.loop.create_task(watcher.run(self._stopping))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def finish(self, dag_id: int, last_seq: int) -> None:
        """The DAG is final at `last_seq`: its watcher stops once it has received that far."""
        watcher = self.watchers[dag_id]

        def set_target() -> None:
            watcher.target = last_seq
            if watcher.done():
                watcher.caught_up.set()

        self.loop.call_soon_threadsafe(set_target)

    def open_watchers(self) -> list[DagWatcher]:
        return [w for w in self.watchers.values() if not w.caught_up.is_set()]

    def wait_caught_up(self, timeout: float) -> list[DagWatcher]:
        """Wait until every finished DAG's watcher has caught up; returns those that did not."""
        deadline = time.monotonic() + timeout
        for watcher in list(self.watchers.values()):
            watcher.caught_up.wait(max(0.0, deadline - time.monotonic()))
        return self.open_watchers()

    def stop(self) -> None:
        if not self._thread.is_alive():
            return

        async def cancel() -> None:
            assert self._stopping is not None
            self._stopping.set()
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=10)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(cancel(), self.loop).result(20)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    def totals(self) -> WatchStats:
        total = WatchStats()
        for watcher in self.watchers.values():
            for name in vars(total):
                setattr(total, name, getattr(total, name) + getattr(watcher.stats, name))
        return total
