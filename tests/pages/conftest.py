import pytest

from tests.pages.helpers import add_community_target
from tests.support.factories import make_cluster, make_user


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Test users need no slow key stretching (PBKDF2 costs most of a page test's time)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def cluster(db):
    return make_cluster("alpha")


@pytest.fixture
def target(db):
    return add_community_target()


@pytest.fixture
def as_role(client, db):
    """Sign the test client in with a fresh user of a role; returns the user."""

    def login(role):
        user = make_user(role)
        client.force_login(user)
        return user

    return login
