import pytest

from tests.support.builds import OB_4_2_1_1_20231101
from tests.support.factories import make_cluster, make_user
from tests.support.packages import stock_packages


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def cluster(db):
    return make_cluster("alpha")


@pytest.fixture
def target(db):
    """The packages of 4.2.1.1 (the pages' one-hop target)."""
    return stock_packages(OB_4_2_1_1_20231101)


@pytest.fixture
def as_role(client, db):
    """Sign the test client in with a fresh user of a role; returns the user."""

    def login(role):
        user = make_user(role)
        client.force_login(user)
        return user

    return login
