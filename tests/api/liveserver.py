"""A real server for SDK tests: daphne in a spawned child process (as channels' ChannelsLiveServerTestCase
runs it) on the test database, with the embedded engine running at zero simulated durations."""

import contextlib
import functools
import os
import time
import traceback
from pathlib import Path

from daphne.testing import DaphneProcess

STARTUP_TIMEOUT = 60


def make_application(*, env):
    """Runs in the child: environment and settings first, then the ASGI application (which starts workers).
    daphne calls this outside its error reporting, so a failure is written where the parent can read it."""
    try:
        return _make_application(env)
    except BaseException:
        with open(env["OCS_TEST_SERVER_ERRORS"], "a") as errors:
            errors.write(traceback.format_exc())
        raise


def _make_application(env):
    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings

    database = settings.DATABASES["default"]
    database["NAME"] = database["TEST"]["NAME"]
    settings.API_AUTH_FREE_FAILURES = int(env.get("API_AUTH_FREE_FAILURES", "10"))
    from dashboard.asgi import application

    return application


class LiveServer:
    def __init__(self, process):
        self.process = process
        self.host = "127.0.0.1"
        self.port = process.port.value

    @property
    def url(self):
        return f"http://{self.host}:{self.port}"


@contextlib.contextmanager
def live_server(*, media_root, extra_env=None):
    env = {
        "EMBEDDED_WORKER": "1",
        "EMBEDDED_WORKER_THREADS": "2",
        "SIMULATION_SPEED": "0",
        "MEDIA_ROOT": str(media_root),
        "API_AUTH_FREE_FAILURES": "1000",
        "OCS_TEST_SERVER_ERRORS": str(Path(media_root) / "server-errors.log"),
        **(extra_env or {}),
    }
    Path(media_root).mkdir(parents=True, exist_ok=True)
    process = DaphneProcess("127.0.0.1", functools.partial(make_application, env=env))
    process.daemon = True
    process.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not process.ready.wait(timeout=0.5):
        if not process.is_alive():
            error = process.errors.get(timeout=1) if not process.errors.empty() else ("", "")
            log = Path(env["OCS_TEST_SERVER_ERRORS"])
            detail = error[1] or (log.read_text() if log.exists() else "") or f"exit code {process.exitcode}"
            raise RuntimeError(f"the test server did not start:\n{detail}")
        if time.monotonic() > deadline:
            process.terminate()
            raise RuntimeError("the test server did not start in time")
    try:
        yield LiveServer(process)
    finally:
        process.terminate()
        process.join(10)
