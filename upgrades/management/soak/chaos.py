"""The soak's fault injector: at random moments (exponential gaps, from the soak's seeded random generator) one
fault of a kind the run asked for, each repaired as an operator or supervisor would:

- worker-kill: SIGKILL a `run_worker` process mid-whatever, restart it a moment later (its leases expire and
  another worker applies the continue rule);
- web-kill: SIGKILL a web process (the watchers' sockets through it drop), restart it a moment later; one web
  process always stays up;
- redis-restart: restart the private Redis (the channel layer loses every group and message);
- pg-cut: `pg_terminate_backend` every client session of the private PostgreSQL, or (one time in four) restart
  the server itself.

The kinds come in rounds (each a fresh shuffle), so a run of k kinds has injected each of them after k faults.

Every kill is kept as a Death (host, pid, time) for the checks.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from upgrades.management.soak.checks import Death
from upgrades.operations.processes import Member, PrivatePostgres, PrivateRedis, ProcessGroup

logger = logging.getLogger(__name__)

KINDS = ("worker-kill", "web-kill", "redis-restart", "pg-cut")
HOST = socket.gethostname()[:64]


@dataclass
class FaultLog:
    injected: Counter = field(default_factory=Counter)  # "worker-kill", "pg-cut (server restart)", ...
    deaths: list[Death] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def note(self, kind: str, detail: str) -> None:
        self.injected[kind] += 1
        self.mark(f"{kind}: {detail}")

    def mark(self, text: str) -> None:
        self.lines.append(f"{timezone.now().isoformat()} {text}")


class Chaos:
    def __init__(
        self,
        group: ProcessGroup,
        *,
        kinds: list[str],
        rng: random.Random,
        mean_interval: float,
        postgres: PrivatePostgres,
        redis: PrivateRedis,
    ):
        self.group = group
        self.kinds = kinds
        self.rng = rng
        self.mean_interval = mean_interval
        self.postgres = postgres
        self.redis = redis
        self.log = FaultLog()
        self._round: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-chaos", daemon=True)

    def start(self) -> Chaos:
        if self.kinds:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(120)

    def _next_kind(self) -> str:
        """The kinds in rounds, each round a fresh shuffle: every kind asked for comes within len(kinds) faults."""
        if not self._round:
            self._round = list(self.kinds)
            self.rng.shuffle(self._round)
        return self._round.pop()

    def _run(self) -> None:
        while not self._stop.wait(self.rng.expovariate(1 / self.mean_interval)):
            kind = self._next_kind()
            try:
                getattr(self, kind.replace("-", "_"))()
            except Exception as exc:  # a fault that could not be injected or repaired is reported, not fatal
                logger.exception("chaos: %s failed", kind)
                self.log.errors.append(f"{kind}: {exc}")

    def _pause(self, low: float, high: float) -> None:
        self._stop.wait(self.rng.uniform(low, high))

    def _kill(self, member: Member) -> None:
        pid = member.pid
        at: datetime = timezone.now()
        self.group.kill(member)
        if pid is not None:
            self.log.deaths.append(Death(HOST, pid, at))

    def worker_kill(self) -> None:
        workers = [m for m in self.group.of_kind("worker") if m.alive]
        if not workers:
            return
        victim = self.rng.choice(workers)
        self.log.note("worker-kill", f"{victim.name} pid {victim.pid}")
        self._kill(victim)
        self._pause(0.2, 2.0)
        victim.start()
        victim.wait_ready()
        self.log.mark(f"{victim.name} up again as pid {victim.pid}")

    def web_kill(self) -> None:
        webs = [m for m in self.group.of_kind("web") if m.alive]
        if len(webs) < 2:
            return
        victim = self.rng.choice(webs)
        self.log.note("web-kill", f"{victim.name} pid {victim.pid}")
        self._kill(victim)
        self._pause(0.2, 2.0)
        victim.start()
        victim.wait_ready()
        self.log.mark(f"{victim.name} up again as pid {victim.pid}")

    def redis_restart(self) -> None:
        self.log.note("redis-restart", f"port {self.redis.port}")
        self.group.restart(self.redis)
        self.log.mark("redis up again")

    def pg_cut(self) -> None:
        if self.rng.random() < 0.25:
            self.log.note("pg-cut (server restart)", f"port {self.postgres.port}")
            self.postgres.stop()
            self._pause(0.0, 1.0)
            self.postgres.start()
            self.postgres.wait_ready()
            self.log.mark("postgres up again")
        else:
            count = self.postgres.terminate_connections()
            self.log.note("pg-cut (sessions terminated)", f"{count} sessions")

    def repair(self) -> None:
        """After the chaos stops: everything it may have left down is up again."""
        for member in self.group.members:
            if not member.alive:
                member.start()
                member.wait_ready()
