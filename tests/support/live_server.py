"""A real server for tests: `dashboard.asgi` (HTTP, websockets and, if asked, the embedded engine) served by
daphne in a child process, on the test run's own database.

    with LiveServer(EMBEDDED_WORKER=1, SIMULATION_SPEED=0) as server:
        requests.get(server.url + "/healthz")

or, in a test, the `live_server_factory` fixture (tests/support/fixtures.py), which stops what it started.

- The child is spawned, never forked (a fork after async tests hangs, and would inherit the parent's event
  loops and database connections); it is started as daphne's own `DaphneProcess`, as channels'
  `ChannelsLiveServerTestCase` does.
- The database is handed over the same way for SQLite and PostgreSQL: `DATABASE_URL` names the test database
  (`database_url()`), and the child's settings read it as they would in production. SQLite test databases
  are files for this reason (see `dashboard/settings.py`); an in-memory one cannot be shared.
- The child's environment is everything a deployment reads (`EMBEDDED_WORKER`, `SIMULATION_SPEED`,
  `REDIS_URL`, `MEDIA_ROOT`...); `settings=` overrides settings that have no environment variable, after
  `django.setup()`. The server runs no engine unless `EMBEDDED_WORKER=1` is asked for: its engine threads
  would claim any READY work in the shared test database.
- A child that fails to start is reported with its traceback; one that does not listen within
  `startup_timeout` seconds is stopped and reported.
- `child_environment()` is the same hand-over for any other child process (`manage.py run_worker`, a script).

Later helpers that need a process of their own (a fake obshell agent) start it the same way.
"""

import contextlib
import multiprocessing
import os
import tempfile
import time
import traceback
from functools import partial
from pathlib import Path
from urllib.parse import quote

STARTUP_TIMEOUT = 60
STOP_TIMEOUT = 10


def database_url():
    """The URL of the database this test runs on, for a child process. On PostgreSQL the test database must
    be committed to for the child to see the data: use it from `django_db(transaction=True)` tests."""
    from django.db import connection

    db = connection.settings_dict
    name = db.get("TEST", {}).get("NAME") or db["NAME"]  # the test database, also before it is set up
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{name}"
    user = quote(db.get("USER") or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{name}"


def child_environment(**overrides):
    """Environment variables that point a fresh settings import at the test database, plus `overrides`
    (values become strings). Merge it into `os.environ` for a subprocess."""
    return {"DATABASE_URL": database_url(), **{key: str(value) for key, value in overrides.items()}}


class LiveServer:
    """A daphne child serving the whole application. `environment` keywords become the child's environment
    variables; `settings` is a dict of Django settings set in the child after setup."""

    def __init__(self, *, settings=None, media_root=None, startup_timeout=STARTUP_TIMEOUT, **environment):
        self.host = "127.0.0.1"
        self.port = 0
        self.process = None
        self.startup_timeout = startup_timeout
        self.settings = dict(settings or {})
        self._media = None if media_root else tempfile.TemporaryDirectory(prefix="live-media-")
        self.media_root = Path(media_root or self._media.name)
        defaults = {"EMBEDDED_WORKER": 0, "SIMULATION_SPEED": 0, "MEDIA_ROOT": self.media_root}
        self.environment = child_environment(**{**defaults, **environment})

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self):
        return f"ws://{self.host}:{self.port}"

    def start(self):
        from daphne.testing import DaphneProcess

        # DaphneProcess builds its Value/Event/Queue with the default context, so the default must be spawn.
        multiprocessing.set_start_method("spawn", force=True)
        self.media_root.mkdir(parents=True, exist_ok=True)
        errors = self.media_root / "server-errors.log"
        errors.unlink(missing_ok=True)
        get_application = partial(_application, self.environment, self.settings, str(errors))
        self.process = DaphneProcess(self.host, get_application, port=self.port)
        self.process.daemon = True  # never outlives the test run
        self.process.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self.process.ready.wait(timeout=0.2):
            if not self.process.is_alive() or time.monotonic() > deadline:
                detail = self._failure(errors)
                self.stop()
                raise RuntimeError(f"the test server did not start: {detail}")
        self.port = self.process.port.value
        return self

    def _failure(self, errors):
        if not self.process.errors.empty():
            return self.process.errors.get(timeout=1)[1]
        if errors.exists() and errors.read_text():
            return errors.read_text()
        if self.process.is_alive():
            return f"not listening after {self.startup_timeout}s"
        return f"exit code {self.process.exitcode}"

    def stop(self):
        """Stop the child (terminate, then kill) and wait until the database has no session of it left. The
        server can be started again, on the same port."""
        process, self.process = self.process, None
        if process is not None and process.is_alive():
            process.terminate()
            process.join(STOP_TIMEOUT)
            if process.is_alive():
                process.kill()
                process.join(STOP_TIMEOUT)
            _wait_for_sessions_of_ended_clients()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _application(environment, settings_overrides, errors_path):
    """Runs in the child: environment and settings first, then the ASGI application (which starts the
    embedded engine if asked). daphne calls this outside its error reporting, so a failure is written where
    the parent reads it."""
    try:
        os.environ.update(environment)
        import django

        django.setup()
        from django.conf import settings

        for name, value in settings_overrides.items():
            setattr(settings, name, value)
        from dashboard.asgi import application

        return application
    except BaseException:
        with open(errors_path, "a") as errors:
            errors.write(traceback.format_exc())
        raise


def _wait_for_sessions_of_ended_clients(timeout=5.0):
    """PostgreSQL ends a killed client's sessions a moment later; dropping the test database needs them gone.
    Best effort: outside a test (database access blocked) or past the deadline, the teardown's own forced
    drop is left to deal with them."""
    from django.db import connection

    from tests.support.waiting import wait_until

    if connection.vendor != "postgresql":
        return

    def no_other_sessions():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return cursor.fetchone()[0] == 0

    # RuntimeError: pytest-django blocks database access here.
    with contextlib.suppress(AssertionError, RuntimeError):
        wait_until(no_other_sessions, timeout=timeout, interval=0.1, what="the server's database sessions to end")
