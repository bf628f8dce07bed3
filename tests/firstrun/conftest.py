import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def login_links_on(settings):
    """The embedded profile's sign-in links, whatever database this run uses."""
    settings.LOGIN_LINK = True
    return settings
