"""Fixtures shared by every test folder, registered for the whole suite by `pytest_plugins` in
tests/conftest.py (a test never imports another folder's conftest)."""

import pytest

from tests.support.live_server import LiveServer


@pytest.fixture
def live_server_factory(django_db_blocker):
    """Start daphne children on the test database: `live_server_factory(EMBEDDED_WORKER=1, ...)` takes
    `LiveServer`'s arguments and returns the started server. Every server started is stopped when the test
    ends, before the test database is flushed."""
    started = []

    def start(**kw):
        server = LiveServer(**kw)
        started.append(server)
        return server.start()

    yield start
    with django_db_blocker.unblock():
        for server in reversed(started):
            server.stop()
