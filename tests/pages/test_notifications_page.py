"""The notifications pages (admins only): add, edit, disable and enable, send a test, delete, every delivery
shown with its request, answer and attempts, and each change audited."""

import pytest

from tests.support.factories import make_cluster
from tests.support.webhook_receiver import WebhookReceiver
from upgrades.models import AuditEntry, Delivery, Subscription


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    with WebhookReceiver() as server:
        yield server


def _add(client, receiver, **extra):
    data = {
        "name": "ops hook",
        "format": "generic",
        "target": receiver.url("/h?token=zzz"),
        "secret": "k1",
        "all_clusters": "on",
        "events": ["upgrade.failed", "upgrade.succeeded"],
        **extra,
    }
    return client.post("/notifications/", data)


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/notifications/", "/notifications/1/"])
def test_anonymous_is_sent_to_login(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.django_db
def test_the_pages_carry_no_inline_script_or_style(client, as_role, receiver):
    import re

    as_role("admin")
    _add(client, receiver)
    subscription = Subscription.objects.get()
    client.post(f"/notifications/{subscription.pk}/test/")
    for path in ("/notifications/", f"/notifications/{subscription.pk}/"):
        html = client.get(path).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html, re.I), path
        assert not re.search(r"<[^>]+\s(style|on[a-z]+)=", html, re.I), path


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_only_admins_see_or_change_notifications(client, as_role, role):
    as_role(role)
    assert client.get("/notifications/").status_code == 403
    assert client.post("/notifications/", {"name": "x"}).status_code == 403
    assert b"/notifications/" not in client.get("/").content


@pytest.mark.django_db
def test_an_admin_adds_a_subscription_and_it_is_audited(client, as_role, receiver):
    as_role("admin")
    assert b'href="/notifications/"' in client.get("/").content
    response = _add(client, receiver)
    subscription = Subscription.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/notifications/{subscription.pk}/"
    assert subscription.events == ["upgrade.succeeded", "upgrade.failed"] and subscription.all_clusters
    page = client.get("/notifications/").content.decode()
    assert "ops hook" in page and "token=zzz" not in page and "k1" not in page
    entry = AuditEntry.objects.get(action="subscription.create")
    assert entry.actor_label.startswith("user admin") and "zzz" not in str(entry.detail)


@pytest.mark.django_db
def test_a_refused_target_is_explained_on_the_form(client, as_role, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    as_role("admin")
    response = client.post(
        "/notifications/",
        {
            "name": "x",
            "format": "generic",
            "target": "http://10.0.0.1/h",
            "secret": "k",
            "all_clusters": "on",
            "events": ["upgrade.failed"],
        },
    )
    assert response.status_code == 400
    assert "10.0.0.1, a private address: refused" in response.content.decode()
    assert not Subscription.objects.exists()


@pytest.mark.django_db
def test_edit_keeps_target_and_secret_when_left_empty_and_limits_clusters(client, as_role, receiver):
    as_role("admin")
    alpha = make_cluster("alpha")
    _add(client, receiver)
    subscription = Subscription.objects.get()
    before = (subscription.target_encrypted, subscription.secret_encrypted)
    response = client.post(
        f"/notifications/{subscription.pk}/",
        {
            "name": "renamed",
            "format": "generic",
            "target": "",
            "secret": "",
            "clusters": ["alpha"],
            "events": ["upgrade.stalled"],
        },
    )
    assert response.status_code == 302
    subscription.refresh_from_db()
    assert (subscription.target_encrypted, subscription.secret_encrypted) == before
    assert subscription.name == "renamed" and subscription.events == ["upgrade.stalled"]
    assert list(subscription.clusters.all()) == [alpha] and not subscription.all_clusters
    entry = AuditEntry.objects.get(action="subscription.update")
    assert set(entry.detail["changed"]) == {"name", "events", "clusters"}


@pytest.mark.django_db
def test_send_test_disable_enable_and_delete(client, as_role, receiver):
    as_role("admin")
    _add(client, receiver)
    subscription = Subscription.objects.get()
    response = client.post(f"/notifications/{subscription.pk}/test/", follow=True)
    assert "Test message delivered (HTTP 200)." in response.content.decode()
    assert receiver.requests[0].path == "/h" and receiver.requests[0].query == {"token": ["zzz"]}
    delivery = Delivery.objects.get()
    page = client.get(f"/notifications/{subscription.pk}/").content.decode()
    assert f'id="delivery-{delivery.pk}"' in page and "X-OB-Dashboard-Signature: sha256=" in page
    assert "Test message from the OB Upgrade Dashboard" in page and "delivered" in page

    receiver.default_answer = (500, b"broken")
    response = client.post(f"/notifications/{subscription.pk}/test/", follow=True)
    assert "Test message not delivered: HTTP 500" in response.content.decode()
    assert Delivery.objects.filter(state="failed").count() == 1  # a test is tried once

    client.post(f"/notifications/{subscription.pk}/toggle/", {"enabled": "0"})
    subscription.refresh_from_db()
    assert not subscription.enabled
    client.post(f"/notifications/{subscription.pk}/toggle/", {"enabled": "1"})
    subscription.refresh_from_db()
    assert subscription.enabled

    client.post(f"/notifications/{subscription.pk}/delete/")
    assert not Subscription.objects.exists() and not Delivery.objects.exists()
    actions = list(
        AuditEntry.objects.filter(action__startswith="subscription.").order_by("id").values_list("action", "outcome")
    )
    assert actions == [
        ("subscription.create", "ok"),
        ("subscription.test", "ok"),
        ("subscription.test", "failed"),
        ("subscription.update", "ok"),
        ("subscription.update", "ok"),
        ("subscription.delete", "ok"),
    ]
