"""Fixtures shared by every test folder, registered for the whole suite by `pytest_plugins` in
tests/conftest.py (a test never imports another folder's conftest)."""

import pytest

from tests.support.builds import OB_4_2_1_1_20231101
from tests.support.factories import make_user
from tests.support.live_server import LiveServer
from tests.support.packages import stock_packages


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


@pytest.fixture
def fast_password_hashing(settings):
    """Test users need no slow key stretching (PBKDF2 costs most of a page test's time). A folder whose tests
    all sign in uses it from an autouse fixture in its conftest."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def target(db):
    """The packages of 4.2.1.1 (the pages' one-hop target); returns oceanbase-ce, which carries the dep file."""
    return stock_packages(OB_4_2_1_1_20231101)


@pytest.fixture
def as_role(client, db):
    """Sign the test client in with a fresh user of a role; returns the user."""

    def login(role):
        user = make_user(role)
        client.force_login(user)
        return user

    return login
