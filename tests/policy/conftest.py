"""The page and policy tests sign users in, so passwords hash fast here; `target` and `as_role` are shared
fixtures (tests/support/fixtures.py)."""

import pytest

from tests.support.factories import make_cluster


@pytest.fixture(autouse=True)
def _fast_password_hashing(fast_password_hashing):
    pass


@pytest.fixture
def cluster(db):
    """The cluster the pages show as /clusters/alpha/ (in place of the API tests' `cluster`)."""
    return make_cluster("alpha")
