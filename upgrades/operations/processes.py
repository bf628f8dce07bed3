"""Process orchestration for the scale-out profile: private Redis and PostgreSQL servers, uvicorn web
processes, `run_worker` processes and the front (`deploy/front.py`), started, killed, restarted and stopped as
one group. Used by the fault tests, the chaos soak and anyone who wants the whole profile on one machine.

Pure orchestration: it imports nothing from the domain and never touches the database through Django; the
children read their settings from the environment, as in production.

    with ProcessGroup(log_dir) as group:
        redis = group.add(PrivateRedis())
        postgres = group.add(PrivatePostgres())
        group.start()                                    # the services first
        env = {"DATABASE_URL": postgres.url(), "REDIS_URL": redis.url(0)}
        group.manage("migrate", env=env)
        webs = [group.add(WebProcess(env=env)) for _ in range(2)]
        group.add(WorkerProcess(env=env, threads=2))
        front = group.add(FrontProcess([w.address for w in webs]))
        group.start()                                    # starts what is not running yet, waits until ready
        group.kill(webs[0]); group.restart(webs[0])

Every member writes its output to `<log_dir>/<name>.log`. A group stops everything it started when its `with`
block ends, on `stop()`, and at interpreter exit (atexit), whichever comes first.

Privileges: PostgreSQL refuses to run as root, so when this process is root `initdb`, `pg_ctl` and the server
run as the `postgres` user (`runuser`); otherwise as the current user.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TypeVar

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FRONT_SCRIPT = PROJECT_ROOT / "deploy" / "front.py"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0


class ProcessError(RuntimeError):
    """A member did not start, did not become ready, or a command failed; the message names its log."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_for(predicate: Callable[[], object], *, timeout: float, what: str, interval: float = 0.1) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise ProcessError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def postgres_bin_dir() -> Path | None:
    """The newest PostgreSQL server binaries on this machine (Debian's /usr/lib/postgresql/<major>/bin, or
    the PATH), or None."""
    candidates = sorted(
        (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin") if (Path(p) / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1]
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def missing_tools() -> list[str]:
    """What this machine lacks for private services ([] when both can run)."""
    missing = []
    if not shutil.which("redis-server"):
        missing.append("redis-server")
    if postgres_bin_dir() is None:
        missing.append("initdb (PostgreSQL server)")
    elif os.geteuid() == 0 and not _postgres_user():
        missing.append("a 'postgres' OS user (PostgreSQL refuses to run as root)")
    return missing


def _postgres_user() -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        return None


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """The status of a GET, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None


class Member:
    """One long-running child process of a group: its command, environment, log file and readiness check.

    Subclasses set `argv()` and `ready()`. `start()` launches (in its own session, so a kill reaches its
    children too) and `wait_ready()` polls `ready()`; `stop()` sends SIGTERM then SIGKILL; `kill()` sends
    SIGKILL at once (a crash); `restart()` starts it again with the same command, port included."""

    kind = "process"

    def __init__(self, name: str | None = None, *, env: Mapping[str, str] | None = None, cwd: Path | None = None):
        self.name = name or ""
        self.env = {key: str(value) for key, value in (env or {}).items()}
        self.cwd = cwd or PROJECT_ROOT
        self.process: subprocess.Popen | None = None
        self.log_path: Path | None = None
        self.starts = 0

    # --- what subclasses define
    def argv(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        return self.alive

    # --- life cycle
    def attach(self, log_dir: Path, name: str) -> None:
        self.name = self.name or name
        self.log_path = log_dir / f"{self.name}.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def running(self) -> bool:
        return self.alive

    def child_environment(self) -> dict[str, str]:
        return {**os.environ, "PYTHONUNBUFFERED": "1", **self.env}

    def start(self) -> None:
        if self.alive:
            return
        assert self.log_path is not None, "add the member to a ProcessGroup first"
        log = open(self.log_path, "ab")  # noqa: SIM115 (the child owns it; closed below after the fork)
        try:
            log.write(f"\n=== start #{self.starts + 1} at {time.strftime('%H:%M:%S')}: {self.argv()}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                self.argv(),
                cwd=self.cwd,
                env=self.child_environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        self.starts += 1

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.process is not None and self.process.poll() is not None and not self.running:
                raise ProcessError(
                    f"{self.name} exited with {self.process.returncode}; see {self.log_path}:\n{self.tail()}"
                )
            if time.monotonic() > deadline:
                raise ProcessError(f"{self.name} not ready after {timeout:.0f}s; see {self.log_path}:\n{self.tail()}")
            time.sleep(0.1)

    def _signal_group(self, signum: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM (a graceful stop), then SIGKILL after `timeout` seconds."""
        if self.process is None or self.process.poll() is not None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.process.wait(timeout)
        self._signal_group(signal.SIGKILL)  # anything it left in its session (just now: its id is not reused yet)

    def kill(self) -> None:
        """SIGKILL, as a crash: no handler runs."""
        if self.process is None or self.process.poll() is not None:
            return
        self._signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(STOP_TIMEOUT)

    def restart(self, timeout: float = START_TIMEOUT) -> None:
        self.stop()
        self.start()
        self.wait_ready(timeout)

    def tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def describe(self) -> str:
        return f"{self.name} (pid {self.pid})"


class PrivateRedis(Member):
    """`redis-server` on its own port, nothing persisted: a restart starts empty, on the same port."""

    kind = "redis"

    def __init__(self, name: str | None = None, *, port: int | None = None, host: str = "127.0.0.1"):
        super().__init__(name)
        self.host = host
        self.port = port or free_port(host)

    def argv(self) -> list[str]:
        return [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(self.port),
            "--bind",
            self.host,
            "--save",
            "",
            "--appendonly",
            "no",
            "--protected-mode",
            "no",
        ]

    def url(self, db: int = 0) -> str:
        return f"redis://{self.host}:{self.port}/{db}"

    def ready(self) -> bool:
        if not self.alive:
            return False
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


class PrivatePostgres(Member):
    """A PostgreSQL cluster of its own: `initdb` into a temporary directory (trust authentication, user
    `postgres`), served by `pg_ctl` on its own port and socket directory. `stop(mode="immediate")` is a
    crash; `start()` after a stop serves the same data on the same port."""

    kind = "postgres"

    def __init__(self, name: str | None = None, *, port: int | None = None, host: str = "127.0.0.1"):
        super().__init__(name)
        self.host = host
        self.port = port or free_port(host)
        self.bin_dir = postgres_bin_dir()
        self.base_dir: Path | None = None
        self._running = False

    @property
    def data_dir(self) -> Path:
        assert self.base_dir is not None
        return self.base_dir / "data"

    @property
    def server_log(self) -> Path:
        """The server's own log, in its directory (the server user may not reach the group's log directory);
        copied to the end of `log_path` by `cleanup()`."""
        assert self.base_dir is not None
        return self.base_dir / "server.log"

    def tail(self, lines: int = 30) -> str:
        own = super().tail(lines)
        if self.base_dir is not None and self.server_log.exists():
            own += "\n--- server log\n" + "\n".join(self.server_log.read_text(errors="replace").splitlines()[-lines:])
        return own

    def _as_server_user(self, argv: list[str]) -> list[str]:
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--", *argv]
        return argv

    def _run(self, argv: list[str], *, timeout: float = START_TIMEOUT) -> None:
        assert self.log_path is not None
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== {time.strftime('%H:%M:%S')}: {argv}\n".encode())
            log.flush()
            result = subprocess.run(
                self._as_server_user(argv),
                cwd=self.base_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        if result.returncode != 0:
            raise ProcessError(
                f"{self.name}: {argv[0]} exited with {result.returncode}; see {self.log_path}:\n{self.tail()}"
            )

    def _init(self) -> None:
        if self.bin_dir is None:
            raise ProcessError("no PostgreSQL server binaries (initdb) on this machine")
        self.base_dir = Path(tempfile.mkdtemp(prefix="obdash-pg-"))
        os.chmod(self.base_dir, 0o700)
        if os.geteuid() == 0:
            user = _postgres_user()
            if user is None:
                raise ProcessError("running as root and there is no 'postgres' user to run PostgreSQL as")
            os.chown(self.base_dir, user.pw_uid, user.pw_gid)
        self._run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--locale=C",
            ]
        )
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nlisten_addresses = '{self.host}'\nport = {self.port}\n"
                f"unix_socket_directories = '{self.base_dir}'\nfsync = off\nsynchronous_commit = off\n"
                "full_page_writes = off\nmax_connections = 200\nshared_buffers = 32MB\n"
            )

    def argv(self) -> list[str]:
        return []

    def start(self) -> None:
        if self._running:
            return
        if self.base_dir is None:
            self._init()
        assert self.bin_dir is not None
        self._run(
            [
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-l",
                str(self.server_log),
                "-w",
                "-t",
                "60",
                "start",
            ]
        )
        self._running = True
        self.starts += 1

    @property
    def running(self) -> bool:
        return self._running

    @property
    def alive(self) -> bool:
        return self._running and (self.data_dir / "postmaster.pid").exists()

    @property
    def pid(self) -> int | None:
        with contextlib.suppress(OSError, ValueError, AssertionError):
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        return None

    def ready(self) -> bool:
        if not self._running or self.bin_dir is None:
            return False
        result = subprocess.run(
            [str(self.bin_dir / "pg_isready"), "-h", self.host, "-p", str(self.port), "-q"], check=False, timeout=10
        )
        return result.returncode == 0

    def stop(self, timeout: float = STOP_TIMEOUT, *, mode: str = "fast") -> None:
        """`mode`: fast (clients disconnected, clean shutdown) or immediate (no shutdown checkpoint: a crash)."""
        if not self._running or self.bin_dir is None:
            return
        self._run(
            [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop"], timeout=timeout + 30
        )
        self._running = False

    def kill(self) -> None:
        self.stop(mode="immediate")

    def url(self, dbname: str = "postgres") -> str:
        return f"postgres://postgres@{self.host}:{self.port}/{dbname}"

    def sql(self, statement: str, dbname: str = "postgres") -> str:
        """Run one statement with psql as the superuser; its unaligned, tuples-only output."""
        assert self.bin_dir is not None
        psql = shutil.which("psql") or str(self.bin_dir / "psql")
        result = subprocess.run(
            [
                psql,
                "-h",
                self.host,
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                dbname,
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                statement,
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if result.returncode != 0:
            raise ProcessError(f"{self.name}: psql failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def terminate_connections(self, dbname: str | None = None) -> int:
        """`pg_terminate_backend` every client session (of `dbname`, or of all databases) but this one; how
        many were terminated."""
        where = "pid <> pg_backend_pid() AND backend_type = 'client backend'"
        if dbname:
            where += f" AND datname = '{dbname.replace(chr(39), chr(39) * 2)}'"
        out = self.sql(f"SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE {where}")
        return int(out or 0)

    def cleanup(self) -> None:
        if self.base_dir is not None:
            if self.server_log.exists() and self.log_path is not None:
                with open(self.log_path, "ab") as log:
                    log.write(b"\n=== server log\n" + self.server_log.read_bytes())
            shutil.rmtree(self.base_dir, ignore_errors=True)
            self.base_dir = None

    def describe(self) -> str:
        return f"{self.name} (port {self.port}, pid {self.pid})"


class WebProcess(Member):
    """`uvicorn dashboard.asgi:application` on its own port, without embedded workers; ready when /readyz
    answers 200."""

    kind = "web"

    def __init__(
        self,
        name: str | None = None,
        *,
        env: Mapping[str, str] | None = None,
        port: int | None = None,
        host: str = "127.0.0.1",
    ):
        super().__init__(name, env={"EMBEDDED_WORKER": "0", **(env or {})})
        self.host = host
        self.port = port or free_port(host)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "uvicorn",
            "dashboard.asgi:application",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "5",
        ]

    def ready(self) -> bool:
        return self.alive and http_status(self.url + "/readyz") == 200


class WorkerProcess(Member):
    """`manage.py run_worker --threads N`; ready once it says it started."""

    kind = "worker"

    def __init__(
        self,
        name: str | None = None,
        *,
        env: Mapping[str, str] | None = None,
        threads: int = 1,
        extra_args: Iterable[str] = (),
    ):
        super().__init__(name, env={"EMBEDDED_WORKER": "0", **(env or {})})
        self.threads = threads
        self.extra_args = list(extra_args)

    def argv(self) -> list[str]:
        return [sys.executable, "manage.py", "run_worker", "--threads", str(self.threads), *self.extra_args]

    def ready(self) -> bool:
        if not self.alive or self.log_path is None or not self.log_path.exists():
            return False
        text = self.log_path.read_text(errors="replace")
        return "worker started" in text[text.rfind("=== start #") :]


class FrontProcess(Member):
    """`deploy/front.py`: round-robin HTTP and WebSocket proxy over `backends` ("host:port")."""

    kind = "front"

    def __init__(
        self, backends: Iterable[str], name: str | None = None, *, port: int | None = None, host: str = "127.0.0.1"
    ):
        super().__init__(name)
        self.backends = list(backends)
        self.host = host
        self.port = port or free_port(host)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    def argv(self) -> list[str]:
        return [
            sys.executable,
            str(FRONT_SCRIPT),
            "--host",
            self.host,
            "--port",
            str(self.port),
            *[arg for backend in self.backends for arg in ("--backend", backend)],
        ]

    def ready(self) -> bool:
        return self.alive and port_open(self.host, self.port)


M = TypeVar("M", bound=Member)

_live_groups: weakref.WeakSet[ProcessGroup] = weakref.WeakSet()


@atexit.register
def _stop_live_groups() -> None:
    for group in list(_live_groups):
        with contextlib.suppress(Exception):
            group.stop()


class ProcessGroup:
    """Members started and stopped together, in the order added (stopped in reverse). `log_dir` keeps one
    log per member (a temporary directory when not given, kept after stop so a failure can be read)."""

    def __init__(self, log_dir: Path | str | None = None):
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="obdash-processes-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.members: list[Member] = []
        self._lock = threading.Lock()
        _live_groups.add(self)

    def add(self, member: M) -> M:
        with self._lock:
            count = sum(1 for m in self.members if m.kind == member.kind)
            member.attach(self.log_dir, f"{member.kind}-{count + 1}")
            if any(m.name == member.name for m in self.members):
                raise ValueError(f"a member named {member.name!r} is already in the group")
            self.members.append(member)
        return member

    def of_kind(self, kind: str) -> list[Member]:
        return [m for m in self.members if m.kind == kind]

    def __getitem__(self, name: str) -> Member:
        for member in self.members:
            if member.name == name:
                return member
        raise KeyError(name)

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start every member not running yet, all at once, and wait until each is ready. Start in phases
        (add the services, start, add what needs them, start again) where one needs another."""
        pending = [m for m in self.members if not m.running]
        for member in pending:
            member.start()
        for member in pending:
            member.wait_ready(timeout)

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        for member in self.members:
            member.wait_ready(timeout)

    def kill(self, member: Member | str) -> Member:
        member = self[member] if isinstance(member, str) else member
        member.kill()
        return member

    def restart(self, member: Member | str, timeout: float = START_TIMEOUT) -> Member:
        member = self[member] if isinstance(member, str) else member
        member.restart(timeout)
        return member

    def stop(self) -> None:
        for member in reversed(self.members):
            with contextlib.suppress(Exception):
                member.stop()
        for member in self.members:
            if isinstance(member, PrivatePostgres):
                member.cleanup()
        _live_groups.discard(self)

    def manage(self, *args: str, env: Mapping[str, str] | None = None, timeout: float = 300) -> str:
        """Run `manage.py <args>` to completion with `env` (its output goes to `<log_dir>/manage.log` and is
        returned); ProcessError when it fails."""
        child_env = {**os.environ, "PYTHONUNBUFFERED": "1", **{k: str(v) for k, v in (env or {}).items()}}
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=PROJECT_ROOT,
            env=child_env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        with open(self.log_dir / "manage.log", "a") as log:
            log.write(f"\n=== manage.py {' '.join(args)} -> {result.returncode}\n{result.stdout}{result.stderr}")
        if result.returncode != 0:
            raise ProcessError(f"manage.py {' '.join(args)} exited with {result.returncode}:\n{result.stderr[-3000:]}")
        return result.stdout

    def describe(self) -> str:
        return "\n".join(f"{m.kind:8} {m.describe()}  log: {m.log_path}" for m in self.members)

    def __enter__(self) -> ProcessGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class PrivateProfile:
    """The whole scale-out profile on private services, for fault tests and the chaos soak: a private Redis and
    PostgreSQL, migrated, `webs` uvicorn web processes behind the front and `workers` run_worker processes of
    `worker_threads` threads each. `environment` (strings) goes to every web and worker process, after
    DATABASE_URL, REDIS_URL and a private MEDIA_ROOT.

        with PrivateProfile(webs=2, workers=2, environment={"SIMULATION_SPEED": "0"}) as profile:
            profile.front.url, profile.service_env, profile.group.kill(profile.webs[0]), profile.redis.restart()
    """

    def __init__(
        self,
        *,
        webs: int = 2,
        workers: int = 2,
        worker_threads: int = 2,
        environment: Mapping[str, str] | None = None,
        base_dir: Path | str | None = None,
    ):
        # A directory made here (base_dir=None) is removed by stop(), logs included; pass one to keep them.
        self._own_dir = base_dir is None
        self.base_dir = Path(base_dir) if base_dir else Path(tempfile.mkdtemp(prefix="obdash-profile-"))
        self.group = ProcessGroup(self.base_dir / "logs")
        self.redis: PrivateRedis = self.group.add(PrivateRedis())
        self.postgres: PrivatePostgres = self.group.add(PrivatePostgres())
        media = self.base_dir / "media"
        media.mkdir(parents=True, exist_ok=True)
        self.env = {
            "EMBEDDED_WORKER": "0",
            "MEDIA_ROOT": str(media),
            **{k: str(v) for k, v in (environment or {}).items()},
        }
        self.n_webs, self.n_workers, self.worker_threads = webs, workers, worker_threads
        self.webs: list[WebProcess] = []
        self.workers: list[WorkerProcess] = []
        self.front: FrontProcess | None = None

    @property
    def service_env(self) -> dict[str, str]:
        """The environment of every web and worker process (and of any `manage.py` run on this profile)."""
        return {"DATABASE_URL": self.postgres.url(), "REDIS_URL": self.redis.url(0), **self.env}

    def start(self) -> PrivateProfile:
        try:
            self.group.start()
            self.group.manage("migrate", "-v0", env=self.service_env)
            self.webs = [self.group.add(WebProcess(env=self.service_env)) for _ in range(self.n_webs)]
            self.workers = [
                self.group.add(WorkerProcess(env=self.service_env, threads=self.worker_threads))
                for _ in range(self.n_workers)
            ]
            self.front = self.group.add(FrontProcess([web.address for web in self.webs]))
            self.group.start()
        except BaseException:
            self.stop()
            raise
        return self

    def add_worker(self, threads: int | None = None) -> WorkerProcess:
        """One more run_worker process, started and ready."""
        worker = self.group.add(WorkerProcess(env=self.service_env, threads=threads or self.worker_threads))
        worker.start()
        worker.wait_ready()
        self.workers.append(worker)
        return worker

    def manage(self, *args: str, timeout: float = 300) -> str:
        """`manage.py <args>` on this profile's services."""
        return self.group.manage(*args, env=self.service_env, timeout=timeout)

    def stop(self) -> None:
        self.group.stop()
        if self._own_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> PrivateProfile:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
