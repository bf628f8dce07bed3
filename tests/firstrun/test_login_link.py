"""The one-time sign-in link `make run` prints: signs the admin in once, within 15 minutes, from loopback only."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.support.factories import make_user
from upgrades.models import AuditEntry, LoginLink
from upgrades.security.login_links import PATH, is_loopback, login_link_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(db):
    return make_user("admin", username="admin")


def url_of(secret):
    return PATH.format(secret=secret)


def test_the_link_signs_the_admin_in_once(client, admin, login_links_on):
    link, secret = login_link_create(user=admin)
    response = client.get(url_of(secret))
    assert response.status_code == 302 and response["Location"] == "/"
    assert response["Referrer-Policy"] == "no-referrer" and "no-store" in response["Cache-Control"]
    assert int(client.session["_auth_user_id"]) == admin.pk
    page = client.get("/")
    assert page.status_code == 200 and "Signed in as admin with the one-time link" in page.content.decode()
    link.refresh_from_db()
    assert link.used_at is not None and link.used_from == "127.0.0.1"

    again = client.get(url_of(secret))
    assert again.status_code == 410
    assert "already been used" in again.content.decode()
    outcomes = list(AuditEntry.objects.filter(action="login_link.use").values_list("outcome", "actor_user", "detail"))
    assert ("ok", admin.pk, {"link": link.pk, "user": "admin"}) in outcomes
    assert any(o == "refused" and d.get("why") == "used" for o, _, d in outcomes)


def test_a_second_browser_cannot_reuse_it(client, admin, login_links_on):
    from django.test import Client

    _, secret = login_link_create(user=admin)
    assert client.get(url_of(secret)).status_code == 302
    other = Client()
    assert other.get(url_of(secret)).status_code == 410
    assert "_auth_user_id" not in other.session


def test_only_a_digest_is_stored(admin, login_links_on):
    link, secret = login_link_create(user=admin)
    assert len(secret) >= 40
    assert secret not in link.digest and LoginLink.objects.filter(digest=link.digest).count() == 1
    entry = AuditEntry.objects.get(action="login_link.create")
    assert secret not in str(entry.detail)


def test_an_expired_link_is_refused_with_a_page_that_says_so(client, admin, login_links_on):
    link, secret = login_link_create(user=admin)
    LoginLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get(url_of(secret))
    assert response.status_code == 410
    text = response.content.decode()
    assert "This sign-in link has expired" in text and "15 minutes" in text and "manage.py login_link" in text
    assert "_auth_user_id" not in client.session
    assert AuditEntry.objects.filter(action="login_link.use", outcome="refused", detail__why="expired").exists()


def test_it_lasts_fifteen_minutes(admin, login_links_on):
    link, _ = login_link_create(user=admin)
    assert timedelta(minutes=14, seconds=59) < link.expires_at - link.created_at <= timedelta(minutes=15)


def test_a_request_from_another_address_is_refused_and_leaves_the_link_usable(client, admin, login_links_on):
    link, secret = login_link_create(user=admin)
    response = client.get(url_of(secret), REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 403
    assert "works only on the server" in response.content.decode()
    assert "10.1.2.3" in response.content.decode()
    assert "_auth_user_id" not in client.session
    link.refresh_from_db()
    assert link.used_at is None
    entry = AuditEntry.objects.get(action="login_link.use", outcome="refused")
    assert entry.source_address == "10.1.2.3" and entry.detail["why"] == "not_loopback"
    assert client.get(url_of(secret), REMOTE_ADDR="::1").status_code == 302


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("10.0.0.1", False),
        ("192.168.1.20", False),
        ("::ffff:10.0.0.1", False),
        ("", False),
        ("localhost", False),
    ],
)
def test_loopback_addresses(address, loopback):
    assert is_loopback(address) is loopback


def test_an_unknown_link_is_refused_and_the_secret_is_not_logged(client, admin, login_links_on, caplog):
    response = client.get(url_of("not-a-real-secret"))
    assert response.status_code == 404
    assert "not valid" in response.content.decode()
    assert "not-a-real-secret" not in caplog.text


def test_a_newer_link_replaces_the_older_one(client, admin, login_links_on):
    _, first = login_link_create(user=admin)
    _, second = login_link_create(user=admin)
    assert client.get(url_of(first)).status_code == 410
    assert client.get(url_of(second)).status_code == 302


def test_links_are_off_outside_the_embedded_profile(client, admin, settings):
    settings.LOGIN_LINK = False
    _, secret = login_link_create(user=admin)
    response = client.get(url_of(secret))
    assert response.status_code == 404
    assert "embedded profile" in response.content.decode()
    with pytest.raises(CommandError, match="embedded profile"):
        call_command("login_link")


def test_the_command_prints_a_working_link(client, admin, login_links_on):
    out = StringIO()
    call_command("login_link", "--port", "8123", stdout=out)
    url = out.getvalue().strip()
    assert url.startswith("http://127.0.0.1:8123/login/link/")
    assert client.get(url.removeprefix("http://127.0.0.1:8123")).status_code == 302
    created = AuditEntry.objects.get(action="login_link.create")
    assert created.actor_label.startswith("command ")


def test_the_embedded_profile_is_sqlite_without_redis_with_embedded_workers(monkeypatch):
    import importlib

    import dashboard.settings as project_settings

    try:
        monkeypatch.delenv("DATABASE_URL", raising=False)
        monkeypatch.delenv("REDIS_URL", raising=False)
        monkeypatch.delenv("LOGIN_LINK", raising=False)
        monkeypatch.setenv("EMBEDDED_WORKER", "1")
        assert importlib.reload(project_settings).LOGIN_LINK is True
        monkeypatch.setenv("LOGIN_LINK", "0")
        assert importlib.reload(project_settings).LOGIN_LINK is False
        monkeypatch.delenv("LOGIN_LINK")
        monkeypatch.setenv("EMBEDDED_WORKER", "0")
        assert importlib.reload(project_settings).LOGIN_LINK is False
        monkeypatch.setenv("EMBEDDED_WORKER", "1")
        monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
        assert importlib.reload(project_settings).LOGIN_LINK is False
        monkeypatch.delenv("REDIS_URL")
        monkeypatch.setenv("DATABASE_URL", "postgres://u@127.0.0.1:5432/db")
        assert importlib.reload(project_settings).LOGIN_LINK is False
    finally:
        monkeypatch.undo()
        importlib.reload(project_settings)
