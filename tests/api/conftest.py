"""Fixtures for API tests: a cluster and its token, a signing test client, and one live server for the SDK."""

import time

import pytest
from obshell import ClientSet
from obshell.auth.password import PasswordAuth
from obshell.service import client_v1

from tests.api.helpers import sdk_server
from tests.support.waiting import wait_for_idle_engine


@pytest.fixture(scope="package")
def server(django_db_setup, django_db_blocker, tmp_path_factory):
    """One daphne child for the SDK tests (started on first use), stopped when tests/api ends: its engine
    threads claim any READY work in the shared test database, so it must not outlive this package."""
    running = sdk_server(tmp_path_factory.mktemp("live-media")).start()
    yield running
    with django_db_blocker.unblock():
        running.stop()


SDK_WAIT_DEADLINE = 120


class _FastTime:
    """The SDK polls every 3 s, with no deadline of its own; tests let it poll quickly (this is not a timing
    assertion) and stop it with an error when a DAG does not finish in SDK_WAIT_DEADLINE seconds."""

    def __init__(self):
        self.deadline = time.monotonic() + SDK_WAIT_DEADLINE

    def __getattr__(self, name):
        return getattr(time, name)

    def sleep(self, seconds):
        if time.monotonic() > self.deadline:
            raise AssertionError(f"the SDK was still waiting after {SDK_WAIT_DEADLINE}s")
        time.sleep(min(seconds, 0.05))


@pytest.fixture
def fast_sdk_polling(monkeypatch):
    monkeypatch.setattr(client_v1, "time", _FastTime())
    yield
    wait_for_idle_engine()  # before the test database is flushed


@pytest.fixture
def sdk(server, token):
    return ClientSet(server.host, server.port, PasswordAuth(token)).v1
