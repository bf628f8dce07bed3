import base64
import json
import time

import pytest
from django.core.management import call_command

from tests.api.signing import as_meta, rsa_encrypt_chunks, v1_request, v2_request
from tests.support.factories import make_cluster
from upgrades.models import ApiToken, AuditEntry, SeenHeader
from upgrades.security import throttle
from upgrades.security.tokens import token_create, token_digest, token_revoke

pytestmark = pytest.mark.django_db


def error_of(response):
    body = response.json()
    assert body["successful"] is False
    assert body["status"] == response.status_code
    return body["error"]


def test_valid_v2_token_reaches_its_cluster(api, cluster):
    response = api.get("/api/v1/ob/info")
    assert response.status_code == 200, response.content
    assert response.json()["data"]["obcluster_info"]["name"] == cluster.name


def test_missing_header_is_400(client, cluster):
    response = client.get("/api/v1/ob/info")
    assert response.status_code == 400
    assert error_of(response) == {
        "errCode": "Request.Header.NotFound",
        "message": "X-OCS-Agent-Header or X-OCS-Header not found in http request header",
    }


def test_wrong_token_is_401_with_legacy_code(api):
    response = api.get("/api/v1/ob/info", password="ocs_not-a-token")
    assert response.status_code == 401
    error = error_of(response)
    assert error["errCode"] == "Security.Authentication.IncorrectOceanbasePassword"
    assert error["code"] == 10008


def test_revoked_token_is_refused(api, token):
    row = ApiToken.objects.get(digest=token_digest(token))
    token_revoke(token=row)
    response = api.get("/api/v1/ob/info")
    assert response.status_code == 401
    assert error_of(response)["errCode"] == "Security.Authentication.IncorrectOceanbasePassword"


def test_expired_header_is_refused_and_a_future_one_accepted(api):
    expired = api.get("/api/v1/ob/info", ts=str(int(time.time()) - 1))
    assert expired.status_code == 401
    assert error_of(expired) == {
        "code": 10008,
        "errCode": "Security.Authentication.Expired",
        "message": "Unauthorized: auth header has expired",
    }
    assert api.get("/api/v1/ob/info", ts=str(int(time.time()) + 5)).status_code == 200


def test_unparsable_ts_is_timestamp_invalid(api):
    response = api.get("/api/v1/ob/info", ts="soon")
    assert response.status_code == 401
    assert error_of(response)["errCode"] == "Security.Authentication.Timestamp.Invalid"


def test_numeric_ts_breaks_the_header_like_go_unmarshal(api):
    response = api.get("/api/v1/ob/info", ts=int(time.time()) + 60)
    assert response.status_code == 401
    error = error_of(response)
    assert error["errCode"] == "Security.Authentication.Header.DecryptFailed"
    assert error["code"] == 1


def test_uri_mismatch(api):
    headers, _ = v2_request(api.public_key, password=api.password, uri="/api/v1/ob/info?x=1")
    response = api.client.get("/api/v1/ob/info", **as_meta(headers))
    assert response.status_code == 401
    assert error_of(response) == {
        "code": 10008,
        "errCode": "Security.Authentication.Header.UriMismatch",
        "message": "Unauthorized: header uri mismatch",
    }


def test_uri_includes_the_raw_query(api, cluster):
    dag_uri = "/api/v1/task/dag/unfinish?show_details=True"
    assert api.get(dag_uri).status_code == 200


@pytest.mark.parametrize(
    "value",
    ["not base64!!", base64.b64encode(b"x" * 100).decode(), base64.b64encode(b"y" * 128).decode(), ""],
)
def test_malformed_header_is_decrypt_failed(client, cluster, value):
    response = client.get("/api/v1/ob/info", HTTP_X_OCS_HEADER=value)
    if value == "":
        assert response.status_code == 400
        return
    assert response.status_code == 401
    assert error_of(response)["errCode"] == "Security.Authentication.Header.DecryptFailed"
    assert error_of(response)["code"] == 1


def test_header_that_is_not_json_is_decrypt_failed(api, client):
    value = rsa_encrypt_chunks(api.public_key, b"definitely not json")
    response = client.get("/api/v1/ob/info", HTTP_X_OCS_HEADER=value)
    assert response.status_code == 401
    assert error_of(response)["errCode"] == "Security.Authentication.Header.DecryptFailed"


def test_header_keys_are_case_insensitive(api, client):
    document = {"Auth": api.password, "TS": str(int(time.time()) + 60), "Uri": "/api/v1/ob/info"}
    value = rsa_encrypt_chunks(api.public_key, json.dumps(document).encode())
    assert client.get("/api/v1/ob/info", HTTP_X_OCS_HEADER=value).status_code == 200


@pytest.fixture
def table_replay_cache(settings):
    settings.REDIS_URL = ""


@pytest.mark.parametrize("backend", ["table", pytest.param("redis", marks=pytest.mark.redis)])
def test_replayed_header_is_refused(api, settings, backend):
    if backend == "table":
        settings.REDIS_URL = ""
    else:
        import os

        settings.REDIS_URL = os.environ["REDIS_URL"]
    headers, _ = v2_request(api.public_key, password=api.password, uri="/api/v1/ob/info")
    first = api.client.get("/api/v1/ob/info", **as_meta(headers))
    second = api.client.get("/api/v1/ob/info", **as_meta(headers))
    assert first.status_code == 200
    assert second.status_code == 401
    assert error_of(second) == {
        "code": 10008,
        "errCode": "Common.Unauthorized",
        "message": "Unauthorized: this auth header has been used before",
    }
    # The table keeps the decrypted content and each RSA block of the one accepted header.
    blocks = len(base64.b64decode(headers["X-OCS-Header"])) // 128
    assert SeenHeader.objects.count() == (1 + blocks if backend == "table" else 0)


def test_expired_seen_headers_are_purged(api, monkeypatch, table_replay_cache):
    from upgrades.security import replay

    monkeypatch.setattr(replay, "_last_purge", 0.0)
    api.get("/api/v1/ob/info", ts=str(int(time.time()) + 1))
    assert SeenHeader.objects.count() == 5  # the decrypted content and its 4 RSA blocks
    monkeypatch.setattr(replay, "_last_purge", 0.0)
    replay.first_use("another header", expires_at=time.time() + 60, now=time.time() + 10)
    assert SeenHeader.objects.count() == 1


def test_v1_auth_accepted_with_plain_body(api, cluster, settings):
    settings.OCS_AUTH_V1 = True
    response = api.get("/api/v1/ob/info", scheme="v1")
    assert response.status_code == 200, response.content


def test_v1_auth_expired(api, settings):
    settings.OCS_AUTH_V1 = True
    response = api.get("/api/v1/ob/info", scheme="v1", ts=int(time.time()) - 5)
    assert response.status_code == 401
    assert error_of(response)["errCode"] == "Security.Authentication.Expired"


def test_v1_off_means_no_header(api, settings, client):
    settings.OCS_AUTH_V1 = False
    headers = v1_request(api.public_key, password=api.password)
    response = client.get("/api/v1/ob/info", **as_meta(headers))
    assert response.status_code == 400
    assert error_of(response)["errCode"] == "Request.Header.NotFound"
    assert client.get("/api/v1/info").json()["data"]["supportedAuth"] == ["v2"]


def test_token_of_another_cluster_on_a_prefixed_route(api, cluster):
    other = make_cluster()
    _, other_token = token_create(cluster=other, label="other")
    own = api.get(f"/clusters/{cluster.name}/api/v1/ob/info")
    assert own.status_code == 200
    response = api.get(f"/clusters/{cluster.name}/api/v1/ob/info", password=other_token)
    assert response.status_code == 401
    assert error_of(response)["errCode"] == "Security.Authentication.IncorrectOceanbasePassword"


def test_failures_are_audited_without_the_secret(api):
    api.get("/api/v1/ob/info", password="ocs_guess-1234")
    entry = AuditEntry.objects.get(action="api.auth")
    assert entry.outcome == AuditEntry.Outcome.REFUSED
    assert entry.actor_label == "anonymous 127.0.0.1"
    assert entry.reason.startswith("Security.Authentication.IncorrectOceanbasePassword")
    everything = json.dumps([entry.reason, entry.detail, entry.actor_label])
    assert "guess-1234" not in everything


def test_failures_are_throttled_but_a_valid_token_is_not(api, settings, monkeypatch):
    settings.API_AUTH_FREE_FAILURES = 2
    delays = []
    monkeypatch.setattr("upgrades.api.middleware.time.sleep", delays.append)
    for _ in range(4):
        assert api.get("/api/v1/ob/info", password="ocs_wrong").status_code == 401
    assert delays and all(d > 0 for d in delays) and len(delays) == 2
    delays.clear()
    assert api.get("/api/v1/ob/info").status_code == 200
    assert delays == []
    assert throttle.record_failure("127.0.0.1") > 0


def test_last_use_is_recorded(api, token):
    assert ApiToken.objects.get(digest=token_digest(token)).last_used_at is None
    api.get("/api/v1/ob/info")
    assert ApiToken.objects.get(digest=token_digest(token)).last_used_at is not None


def test_token_commands(cluster, capsys):
    call_command("create_token", cluster.name, "--label", "ci")
    out = capsys.readouterr().out.strip().splitlines()
    secret = out[-1]
    row = ApiToken.objects.get(digest=token_digest(secret))
    assert row.label == "ci" and row.prefix == secret[:12] and secret.startswith("ocs_")
    call_command("list_tokens")
    listing = capsys.readouterr().out
    assert "ci" in listing and secret not in listing and row.prefix in listing
    call_command("revoke_token", str(row.pk))
    row.refresh_from_db()
    assert row.revoked_at is not None


def test_session_user_needs_the_role_and_a_cluster_prefix(client, cluster):
    from tests.support.factories import make_user

    viewer = make_user("viewer")
    client.force_login(viewer)
    response = client.get(f"/clusters/{cluster.name}/api/v1/ob/info")
    assert response.status_code == 200
    assert client.get("/api/v1/ob/info").json()["error"]["errCode"] == "Request.Path.Param.Empty"
    assert client.get("/clusters/missing/api/v1/ob/info").status_code == 404
    denied = client.post(f"/clusters/{cluster.name}/api/v1/ob/upgrade", data="{}", content_type="application/json")
    assert denied.status_code == 401
    assert denied.json()["error"]["errCode"] == "Security.User.PermissionDenied"


def test_session_post_needs_csrf(cluster):
    from django.test import Client

    from tests.support.factories import make_user

    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("operator"))
    response = client.post(f"/clusters/{cluster.name}/api/v1/task/dag/11", data="{}", content_type="application/json")
    assert response.status_code == 401
    assert response.json()["error"]["errCode"] == "Common.Unauthorized"
