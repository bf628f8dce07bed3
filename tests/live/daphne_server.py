"""A daphne child process serving the whole app (HTTP, websockets, embedded workers) on the test database,
for browser tests and benchmarks. Started with the spawn method: a forked child would inherit the parent's
event loops and database connections."""

import multiprocessing
import os

from daphne.testing import DaphneProcess
from django.db import connection


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
        self.process = None
