import multiprocessing
import time

import pytest
from obshell import ClientSet
from obshell.auth.password import PasswordAuth
from obshell.service import client_v1

from tests.api.liveserver import live_server
from tests.api.signing import as_meta, load_public_key, v1_request, v2_request
from tests.support.factories import make_cluster
from upgrades.security import throttle
from upgrades.security.keys import public_key_pkcs1_b64
from upgrades.security.tokens import token_create

# Server child processes are spawned, never forked (a fork after async tests hangs).
multiprocessing.set_start_method("spawn", force=True)


@pytest.fixture(autouse=True)
def _fresh_throttle():
    throttle.reset()
    yield
    throttle.reset()


@pytest.fixture
def cluster(db):
    return make_cluster(zones=3)


@pytest.fixture
def token(cluster):
    row, secret = token_create(cluster=cluster, label="tests")
    return secret


class Api:
    """A Django test client speaking v2 (or v1) auth for one token."""

    def __init__(self, client, password):
        self.client = client
        self.password = password
        self.public_key = load_public_key(public_key_pkcs1_b64())

    def call(self, method, uri, body=None, *, password=None, scheme="v2", **kw):
        password = self.password if password is None else password
        if scheme == "v2":
            headers, data = v2_request(self.public_key, password=password, uri=uri, body=body, **kw)
        else:
            headers = v1_request(self.public_key, password=password, **kw)
            data = body if isinstance(body, bytes) else (__import__("json").dumps(body).encode() if body else b"")
        return self.client.generic(method, uri, data=data, content_type="text/plain", **as_meta(headers))

    def get(self, uri, **kw):
        return self.call("GET", uri, **kw)

    def post(self, uri, body=None, **kw):
        return self.call("POST", uri, body, **kw)


@pytest.fixture
def api(client, token):
    return Api(client, token)


@pytest.fixture(scope="package")
def server(tmp_path_factory):
    """One daphne child for the SDK tests (started on first use), stopped when tests/api ends: its engine
    threads claim any READY work in the shared test database, so it must not outlive this package."""
    with live_server(media_root=tmp_path_factory.mktemp("live-media")) as running:
        yield running


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
    _wait_for_idle_engine()


def _wait_for_idle_engine(timeout=60):
    """Before the test database is flushed: the server's engine must have nothing in flight, or its writes
    race the flush. Polls with a deadline."""
    from upgrades.models import Dag, SubTask

    deadline = time.monotonic() + timeout
    while (
        Dag.objects.filter(state__in=("READY", "RUNNING")).exists()
        or SubTask.objects.filter(state__in=("READY", "RUNNING")).exclude(lease_owner="").exists()
    ):
        if time.monotonic() > deadline:
            raise AssertionError(f"the server's engine was still busy {timeout}s after the test")
        time.sleep(0.05)


@pytest.fixture
def sdk(server, token):
    return ClientSet(server.host, server.port, PasswordAuth(token)).v1
