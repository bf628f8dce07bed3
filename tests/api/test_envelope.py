import re
from datetime import UTC, datetime

import pytest

from upgrades.api.gotime import go_time

GO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")
KEYS = ["successful", "timestamp", "duration", "status", "traceId"]


def test_go_time_trims_the_fraction_and_writes_z():
    assert go_time(datetime(2024, 1, 9, 8, 55, 58, 700000, tzinfo=UTC)) == "2024-01-09T08:55:58.7Z"
    assert go_time(datetime(2024, 1, 9, 8, 55, 58, tzinfo=UTC)) == "2024-01-09T08:55:58Z"
    assert go_time(datetime(2024, 1, 9, 8, 55, 58, tzinfo=UTC), nanos=720781191) == "2024-01-09T08:55:58.720781191Z"
    assert go_time(None) == "0001-01-01T00:00:00Z"


def test_go_time_uses_the_server_zone(settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    assert go_time(datetime(2024, 1, 9, 8, 55, 58, 720000, tzinfo=UTC)) == "2024-01-09T16:55:58.72+08:00"


@pytest.mark.django_db
def test_success_envelope_keys_in_order(client):
    response = client.get("/api/v1/info", HTTP_X_OBSHELL_TRACE_ID="abc123")
    body = response.json()
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert list(body) == [*KEYS, "data"]
    assert body["successful"] is True
    assert body["status"] == 200
    assert body["traceId"] == "abc123"
    assert isinstance(body["duration"], int)
    assert GO_TIME.match(body["timestamp"])


@pytest.mark.django_db
def test_generated_trace_id_is_16_hex(client):
    body = client.get("/api/v1/secret").json()
    assert re.fullmatch(r"[0-9a-f]{16}", body["traceId"])


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/nothing"),
        ("GET", "/api/v1/info/"),
        ("POST", "/api/v1/ob/upgrade/"),
        ("PUT", "/api/v1/ob/upgrade"),
        ("GET", "/api/v1/ob/upgrade"),
        ("DELETE", "/api/v1/info"),
        ("GET", "/api/v2/info"),
        ("GET", "/clusters/nope/api/v1/nothing"),
    ],
)
def test_unknown_routes_and_wrong_methods_are_404_envelopes(client, method, path):
    response = client.generic(method, path)
    body = response.json()
    assert response.status_code == 404
    assert list(body) == [*KEYS, "error"]
    assert body["successful"] is False
    assert body["status"] == 404
    assert body["error"] == {"errCode": "Common.NotFound", "message": "Element not found: 404 not found"}


@pytest.mark.django_db
def test_unhandled_exception_is_the_unexpected_envelope(client, monkeypatch):
    from upgrades.api import agent

    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(agent, "info", boom)
    client.raise_request_exception = False
    response = client.get("/api/v1/info")
    body = response.json()
    assert response.status_code == 500
    assert body["error"] == {"errCode": "Common.Unexpected", "message": "Unexpected error: Internal Server Error"}
    assert body["traceId"] == "" and body["duration"] == 0


@pytest.mark.django_db
def test_schema_is_a_plain_openapi_document(client):
    response = client.get("/api/schema", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    document = response.json() if response["Content-Type"].startswith("application/json") else None
    if document is None:
        import yaml

        document = yaml.safe_load(response.content)
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    for route in ("/api/v1/ob/upgrade", "/api/v1/task/dag/{generic_id}", "/api/v1/upgrade/package", "/api/v1/info"):
        assert route in paths
    assert "/clusters/{cluster_name}/api/v1/ob/upgrade" in paths


def test_schema_validates_without_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3")
