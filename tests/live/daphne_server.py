"""A daphne child process serving the whole app (HTTP, websockets, embedded workers) on the test database,
for browser tests and benchmarks. Started with the spawn method: a forked child would inherit the parent's
event loops and database connections."""

import functools
import multiprocessing
import os
import time

from daphne.testing import DaphneProcess
from django.db import connection, connections


def child_environment(**overrides):
    """Environment that points a fresh settings import at the current (test) database."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        url = f"sqlite:///{db['NAME']}"
    else:
        auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        url = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {"DATABASE_URL": url, **{key: str(value) for key, value in overrides.items()}}


def serve_application(environment):
    os.environ.update(environment)
    import django

    django.setup()
    from dashboard.asgi import application

    return application


class LiveServer:
    def __init__(self, environment, host="127.0.0.1"):
        self.environment = environment
        self.host = host
        self.port = 0
        self.process = None

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"

    def start(self, timeout=30):
        from functools import partial

        # DaphneProcess builds its Value/Event with the default context, so the default must be spawn.
        multiprocessing.set_start_method("spawn", force=True)
        self.process = DaphneProcess(self.host, partial(serve_application, self.environment), port=self.port)
        self.process.start()
        if not self.process.ready.wait(timeout):
            self.stop()
            raise RuntimeError("the daphne child did not start listening")
        if not self.process.errors.empty():
            error, trace = self.process.errors.get()
            raise RuntimeError(f"the daphne child failed: {error}\n{trace}")
        self.port = self.process.port.value
        return self

    def stop(self):
        if self.process is not None and self.process.is_alive():
            self.process.terminate()
            self.process.join(10)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(5)
            _wait_for_other_sessions_to_end()
        self.process = None


def closing_db_connections(test):
    """For async tests that use the ORM directly: Django keeps a connection per async context, which the
    test database teardown cannot see or close; close this test's own connections when it ends."""

    @functools.wraps(test)
    async def wrapper(*args, **kwargs):
        try:
            return await test(*args, **kwargs)
        finally:
            connections.close_all()

    return wrapper


def _wait_for_other_sessions_to_end(timeout=5.0):
    """PostgreSQL ends a killed client's sessions a moment later; dropping the test database needs them gone."""
    if connection.vendor != "postgresql":
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] == 0:
                return
        time.sleep(0.1)
