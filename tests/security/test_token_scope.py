"""API tokens may carry an expiry and a read-only scope: an expired token is 401 with obshell's expiry
errCode, a read-only token reads but POST and DELETE are 401 Security.User.PermissionDenied; the commands
and the cluster page show both."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.api.helpers import Api
from tests.support.factories import make_user
from upgrades.models import ApiToken, Dag
from upgrades.security.tokens import token_create

pytestmark = pytest.mark.django_db
EXPIRED = "Security.Authentication.Expired"
DENIED = "Security.User.PermissionDenied"


def _refused(response, err_code):
    assert response.status_code == 401, response.content
    body = response.json()
    assert body["successful"] is False and body["error"]["errCode"] == err_code
    return body


def test_an_expired_token_is_refused(client, cluster):
    row, secret = token_create(cluster=cluster, label="short-lived", expires_in_days=1)
    api = Api(client, secret)
    assert api.get("/api/v1/ob/info").status_code == 200
    ApiToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    body = _refused(api.get("/api/v1/ob/info"), EXPIRED)
    assert body["error"]["code"] == 10008
    _refused(api.post("/api/v1/ob/upgrade/check", {"version": "4.3.0.1", "release": "1"}), EXPIRED)


def test_a_token_without_expiry_never_expires(client, cluster):
    row, secret = token_create(cluster=cluster, label="forever")
    assert row.expires_at is None and not row.is_expired
    assert Api(client, secret).get("/api/v1/ob/info").status_code == 200


@pytest.mark.parametrize("days", [0, -1, True, "3"])
def test_an_expiry_must_be_a_positive_number_of_days(cluster, days):
    from upgrades.errors import ObshellError

    with pytest.raises(ObshellError):
        token_create(cluster=cluster, label="bad", expires_in_days=days)


def test_a_read_only_token_reads_but_does_not_write(client, cluster):
    _, secret = token_create(cluster=cluster, label="monitoring", read_only=True)
    api = Api(client, secret)
    assert api.get("/api/v1/ob/info").status_code == 200
    assert api.get("/api/v1/task/dags/ob").status_code == 200
    body = {"version": "4.3.0.1", "release": "1", "mode": "ROLLING", "reason": "read-only must not start this"}
    _refused(api.post("/api/v1/ob/upgrade", body), DENIED)
    _refused(api.post("/api/v1/ob/upgrade/check", {"version": "4.3.0.1", "release": "1"}), DENIED)
    _refused(api.call("DELETE", "/api/v1/upgrade/package/1"), DENIED)
    assert Dag.objects.count() == 0


def test_a_full_token_still_writes(client, cluster):
    _, secret = token_create(cluster=cluster, label="ci")
    response = Api(client, secret).post("/api/v1/ob/upgrade/check", {"version": "4.3.0.1", "release": "1"})
    assert response.status_code != 401, response.content


def test_create_token_and_list_tokens_show_expiry_and_scope(cluster, capsys):
    call_command("create_token", cluster.name, "--label", "nightly", "--expires-in", "7", "--read-only")
    out = capsys.readouterr().out
    assert "read-only" in out and "expires" in out
    row = ApiToken.objects.get(label="nightly")
    assert row.scope == ApiToken.Scope.READ_ONLY
    assert timedelta(days=6, hours=23) < row.expires_at - timezone.now() <= timedelta(days=7)
    call_command("create_token", cluster.name, "--label", "plain")
    capsys.readouterr()
    call_command("list_tokens")
    listing = capsys.readouterr().out
    assert "SCOPE" in listing and "EXPIRES" in listing
    nightly = next(line for line in listing.splitlines() if "nightly" in line)
    plain = next(line for line in listing.splitlines() if "plain" in line)
    assert "read-only" in nightly and f"{row.expires_at:%Y-%m-%d %H:%M:%S}" in nightly
    assert "full" in plain
    ApiToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(days=1))
    call_command("list_tokens")
    assert "(expired)" in next(line for line in capsys.readouterr().out.splitlines() if "nightly" in line)


def test_the_cluster_page_shows_scope_and_expiry(client, cluster):
    token_create(cluster=cluster, label="nightly", expires_in_days=7, read_only=True)
    client.force_login(make_user("admin"))
    html = client.get(f"/clusters/{cluster.name}/").content.decode()
    assert ">Scope<" in html and ">Expires<" in html
    row = ApiToken.objects.get(label="nightly")
    assert "read-only" in html and timezone.localtime(row.expires_at).strftime("%Y-%m-%d %H:%M") in html
