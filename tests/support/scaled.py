"""The scale-out profile as real processes, for fault tests: a private Redis and a private PostgreSQL (never the
machine's shared ones: tests stop and restart them), uvicorn web processes behind `deploy/front.py`, and
`run_worker` processes, all from `upgrades.operations.processes`.

    with ScaledProfile(webs=2, workers=2, SIMULATION_SPEED=6) as profile:
        run = profile.start_run()                    # a cluster, its packages, an operator's session, a DAG
        watcher = DagWatcher(profile.front.ws_url, run); ...
        profile.redis.restart()

The test process never opens Django connections to the private database: setup runs in a child Python
(`profile.django(code)`, the project's own factories), and checks read it with psycopg (`profile.query`).
`require_private_services()` skips (or, with CI=true, fails) where `redis-server` or `initdb` is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time

from tests.support.environment import missing_service
from tests.support.paths import PROJECT_ROOT
from upgrades.operations.processes import PrivateProfile, missing_tools

ARTIFACTS = PROJECT_ROOT / "test-artifacts"

SETUP_RUN = """
import json
import django
django.setup()
from django.test import Client
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster, make_user
from tests.support.packages import stock_packages
from upgrades.audit import Actor

user = make_user("operator")
client = Client()
client.force_login(user)
stock_packages(TARGET)
cluster = make_cluster(zones={zones})
dag = start_upgrade(cluster, TARGET, actor=Actor.for_user(user), reason="fault test")
print(json.dumps({{"dag_id": dag.pk, "sessionid": client.cookies["sessionid"].value, "user_id": user.pk}}))
"""


def require_private_services():
    missing = missing_tools()
    if missing:
        missing_service(f"fault tests start private services and this machine lacks {', '.join(missing)}")


class ScaledProfile(PrivateProfile):
    """`upgrades.operations.processes.PrivateProfile` (private Redis + PostgreSQL, migrated; uvicorn web
    processes behind the front; run_worker processes) with test defaults (zero-duration steps, a 3 s lease),
    environment variables as keywords, the process logs kept in test-artifacts/ when the test fails, and
    setup and reads on the private database."""

    def __init__(self, *, webs=2, workers=2, worker_threads=2, **environment):
        defaults = {"SIMULATION_SPEED": "0", "WORKER_LEASE_SECONDS": "3", "DEBUG": "0"}
        super().__init__(
            webs=webs,
            workers=workers,
            worker_threads=worker_threads,
            environment={**defaults, **{key: str(value) for key, value in environment.items()}},
        )
        self.log_dir = self.base_dir

    def __exit__(self, exc_type, *exc):
        if exc_type is not None:
            self.keep_logs()
        self.stop()

    def keep_logs(self):
        """Copy every process log to test-artifacts/ (a failed test's evidence)."""
        target = ARTIFACTS / f"faults-{time.strftime('%H%M%S')}"
        with contextlib.suppress(OSError):
            target.mkdir(parents=True, exist_ok=True)
            for log in (self.log_dir / "logs").glob("*.log"):
                (target / log.name).write_bytes(log.read_bytes())
            if self.postgres.base_dir is not None and self.postgres.server_log.exists():
                (target / "postgres-server.log").write_bytes(self.postgres.server_log.read_bytes())
            print(f"process logs kept in {target}")

    def django(self, code, timeout=120):
        """Run `code` in a child Python with Django set up on the private database; its stdout."""
        environment = {**os.environ, **self.service_env, "DJANGO_SETTINGS_MODULE": "dashboard.settings"}
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=PROJECT_ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(f"setup in the private database failed:\n{result.stderr[-4000:]}")
        return result.stdout

    def start_run(self, *, zones=3):
        """An operator, packages, a simulated cluster and a rolling upgrade to 4.3.0.1; {dag_id, sessionid}."""
        return json.loads(self.django(SETUP_RUN.format(zones=zones)).strip().splitlines()[-1])

    def query(self, sql, *params):
        """Rows of one query on the private database (a fresh connection each time: the server may restart)."""
        import psycopg

        with psycopg.connect(self.postgres.url(), connect_timeout=5, autocommit=True) as connection:
            return connection.execute(sql, params).fetchall()

    def dag(self, dag_id):
        """(state, stage, max_stage, last_seq) of a DAG."""
        return self.query("SELECT state, stage, max_stage, last_seq FROM upgrades_dag WHERE id = %s", dag_id)[0]


class DagWatcher:
    """A websocket client of `ws/dags/<id>/` behaving like the run page: it keeps the last seq it applied,
    checks every event follows the one before (a replay must continue from its `after_seq`), and after any
    close reconnects through the same URL with `?after_seq=` until `stop()`. `seqs` is every event seq
    applied, in order; `connections` counts the sockets it opened."""

    def __init__(self, ws_base, run, origin):
        self.url = f"{ws_base}/ws/dags/{run['dag_id']}/"
        self.headers = {"Cookie": f"sessionid={run['sessionid']}", "Origin": origin}
        self.seq = 0
        self.seqs: list[int] = []
        self.state = None
        self.connections = 0
        self.errors: list[str] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self):
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self):
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _apply_event(self, frame):
        seq = frame["seq"]
        if seq <= self.seq:
            return
        if seq != self.seq + 1:
            self.errors.append(f"gap: event {seq} after {self.seq}")
        self.seq = seq
        self.seqs.append(seq)
        dag = (frame.get("payload") or {}).get("dag")
        if dag and "state" in dag:
            self.state = dag["state"]

    def _apply(self, frame):
        kind = frame.get("type")
        if kind == "snapshot":
            self.seq = frame["seq"]
            self.seqs.append(("snapshot", frame["seq"]))
            self.state = frame["dag"]["state"]
        elif kind == "event":
            self._apply_event(frame)
        elif kind == "replay":
            if frame["after_seq"] != self.seq:
                self.errors.append(f"replay after {frame['after_seq']} while at {self.seq}")
            for event in frame["events"]:
                self._apply_event(event)

    async def _run(self):
        import websockets

        attempt = 0
        while not self._stop.is_set():
            url = self.url + (f"?after_seq={self.seq}" if self.connections else "")
            try:
                async with websockets.connect(url, additional_headers=self.headers, open_timeout=5) as socket:
                    self.connections += 1
                    attempt = 0
                    async for text in socket:
                        self._apply(json.loads(text))
            except (TimeoutError, OSError, websockets.exceptions.WebSocketException):
                pass
            attempt += 1
            await asyncio.sleep(min(0.2 * attempt, 2.0))

    async def wait_for(self, predicate, *, timeout, what):
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what} (at seq {self.seq}, {self.state})")
            await asyncio.sleep(0.05)


async def wait(predicate, *, timeout, what):
    """wait_until for async tests: `predicate` (blocking, e.g. a query) runs in a thread."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await asyncio.to_thread(predicate):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.1)
