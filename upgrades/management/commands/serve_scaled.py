"""What `make run-scaled` does: the scale-out profile on this machine's PostgreSQL and Redis. Creates the
database if it is missing, migrates, seeds the demo fleet if there is no cluster yet, then runs N uvicorn web
processes behind `deploy/front.py` and M `run_worker` processes (upgrades.operations.processes), restarts
any that exits, and stops them all on Ctrl-C or SIGTERM. The same commands, one per unit, are in
deploy/Procfile and deploy/systemd/."""

import shutil
import signal
import threading
import time

import psycopg
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from upgrades.demo.fleet import seed_demo
from upgrades.management.commands.serve_demo import PHASE_WIDTH, _database_label, _port_free
from upgrades.models import Cluster
from upgrades.operations.processes import FrontProcess, ProcessError, ProcessGroup, WebProcess, WorkerProcess

WATCH_EVERY = 1.0


def _ensure_database():
    """CREATE DATABASE when the configured one does not exist yet (connecting to `postgres` to do it)."""
    db = settings.DATABASES["default"]
    params = {
        "host": db.get("HOST") or None,
        "port": db.get("PORT") or None,
        "user": db.get("USER") or None,
        "password": db.get("PASSWORD") or None,
    }
    params = {key: value for key, value in params.items() if value is not None}
    try:
        with psycopg.connect(**params, dbname="postgres", autocommit=True, connect_timeout=5) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db["NAME"],)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{db["NAME"].replace(chr(34), "")}"')
                return True
    except psycopg.Error as exc:
        raise CommandError(f"PostgreSQL: {str(exc).strip()}") from None
    return False


class Command(BaseCommand):
    help = (
        "The scale-out profile on this machine (make run-scaled): PostgreSQL (DATABASE_URL) and Redis "
        "(REDIS_URL), N uvicorn web processes behind deploy/front.py, M run_worker processes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="the front's address (default 127.0.0.1)")
        parser.add_argument("--port", type=int, default=8000, help="the front's port; web processes use the next N")
        parser.add_argument("--webs", type=int, default=2, help="uvicorn web processes (default 2)")
        parser.add_argument("--workers", type=int, default=2, help="run_worker processes (default 2)")
        parser.add_argument("--threads", type=int, default=2, help="threads per run_worker process (default 2)")
        parser.add_argument("--log-dir", default=None, help="one log per process (default VAR_DIR/scaled-logs)")

    def line(self, phase, text):
        self.stdout.write(f"{phase:<{PHASE_WIDTH}}{text}")
        self.stdout.flush()

    def handle(self, *args, **opts):
        if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql") or not settings.REDIS_URL:
            raise CommandError("the scale-out profile needs DATABASE_URL=postgres://... and REDIS_URL=redis://...")
        host, port = opts["host"], opts["port"]
        webs, workers = max(1, opts["webs"]), max(1, opts["workers"])
        ports = [port, *range(port + 1, port + 1 + webs)]
        busy = [p for p in ports if not _port_free(host, p)]
        if busy:
            raise CommandError(f"port(s) {', '.join(map(str, busy))} in use on {host}: stop what listens, or PORT=...")

        started = time.monotonic()
        created = _ensure_database()
        call_command("migrate", interactive=False, verbosity=0)
        note = "created and migrated" if created else "migrated"
        self.line("migrate", f"{_database_label()}: {note} ({time.monotonic() - started:.1f} s)")

        started = time.monotonic()
        if Cluster.objects.exists():
            self.line("seed", "clusters exist: not seeding the demo fleet")
        else:
            report = seed_demo()
            text = f"demo fleet {', '.join(c.name for _, c in report.clusters)}; {len(report.packages)} packages"
            if report.passwords:
                shown = " ".join(f"{role}={password}" for role, password in report.passwords.items())
                text += f"; accounts created, passwords shown only now: {shown}"
            self.line("seed", f"{text} ({time.monotonic() - started:.1f} s)")

        log_dir = opts["log_dir"] or (settings.VAR_DIR / "scaled-logs")
        environment = {"EMBEDDED_WORKER": "0"}
        multiproc = settings.VAR_DIR / "prometheus-multiproc"
        # One host, several web processes: metrics aggregated per host (README: Health and metrics), emptied
        # before any process starts, as the systemd units' ExecStartPre does.
        shutil.rmtree(multiproc, ignore_errors=True)
        multiproc.mkdir(parents=True, exist_ok=True)
        environment["PROMETHEUS_MULTIPROC_DIR"] = str(multiproc)
        group = ProcessGroup(log_dir)
        try:
            self.serve(group, environment, host, ports, workers, opts["threads"], log_dir)
        finally:
            group.stop()
            self.line("stop", "every process stopped")

    def serve(self, group, environment, host, ports, workers, threads, log_dir):
        started = time.monotonic()
        webs = [group.add(WebProcess(env=environment, host="127.0.0.1", port=p)) for p in ports[1:]]
        for _ in range(workers):
            group.add(WorkerProcess(env=environment, threads=threads))
        front = group.add(FrontProcess([web.address for web in webs], host=host, port=ports[0]))
        try:
            group.start()
        except ProcessError as exc:
            raise CommandError(str(exc)) from None
        self.line(
            "serve",
            f"{len(webs)} uvicorn web processes ({', '.join(web.address for web in webs)}) behind the front on "
            f"{host}:{ports[0]}, {workers} run_worker processes x {threads} threads "
            f"({time.monotonic() - started:.1f} s); logs in {log_dir}; Ctrl-C stops them all",
        )
        self.line("open", f"{front.url}/")
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        while not stop.wait(WATCH_EVERY):
            for member in group.members:
                if not member.alive:
                    self.line("restart", f"{member.name} exited ({member.process.returncode}); starting it again")
                    member.start()
