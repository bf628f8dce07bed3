"""The API client fixtures (a token of a three-zone cluster, a client signing as that token), registered by
tests/conftest.py for tests/api and tests/security."""

import pytest

from tests.api.helpers import Api
from tests.support.factories import make_cluster
from upgrades.security import throttle
from upgrades.security.tokens import token_create


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


@pytest.fixture
def api(client, token):
    return Api(client, token)
