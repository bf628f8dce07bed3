"""Every served route answers a malformed request with obshell's envelope (never HTML, never a redirect)."""

import pytest

pytestmark = pytest.mark.django_db

KEYS = ["successful", "timestamp", "duration", "status", "traceId"]

# (method, path) of every route, with a well-formed id where the route takes one.
PROTECTED = [
    ("GET", "/api/v1/ob/info"),
    ("POST", "/api/v1/ob/upgrade/check"),
    ("POST", "/api/v1/ob/upgrade"),
    ("POST", "/api/v1/upgrade/package"),
    ("GET", "/api/v1/upgrade/package/info"),
    ("DELETE", "/api/v1/upgrade/package/1"),
    ("GET", "/api/v1/task/dag/maintain/ob"),
    ("GET", "/api/v1/task/dag/maintain/agent"),
    ("GET", "/api/v1/task/dag/maintain/agents"),
    ("GET", "/api/v1/task/dag/unfinish"),
    ("GET", "/api/v1/task/dag/ob/unfinish"),
    ("GET", "/api/v1/task/dag/agent/unfinish"),
    ("GET", "/api/v1/task/dags/ob"),
    ("GET", "/api/v1/task/dags/agent"),
    ("GET", "/api/v1/task/dag/11"),
    ("POST", "/api/v1/task/dag/11"),
    ("GET", "/api/v1/task/node/11"),
    ("POST", "/api/v1/task/node/11"),
    ("GET", "/api/v1/task/sub_task/11"),
    ("GET", "/api/v1/task/sub_task/11/logs"),
]
OPEN = [("GET", "/api/v1/info"), ("GET", "/api/v1/status"), ("POST", "/api/v1/status"), ("GET", "/api/v1/secret")]


def assert_error_envelope(response, status, err_code):
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert list(body)[:5] == KEYS and "error" in body
    assert body["successful"] is False and body["status"] == status == response.status_code
    assert body["error"]["errCode"] == err_code and body["error"]["message"]
    return body["error"]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize("prefixed", [False, True])
def test_without_credentials(client, cluster, method, path, prefixed):
    if prefixed:
        path = f"/clusters/{cluster.name}{path}"
    assert_error_envelope(client.generic(method, path), 400, "Request.Header.NotFound")


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_with_an_undecryptable_header(client, cluster, method, path):
    response = client.generic(method, path, HTTP_X_OCS_HEADER="bm90IGEgaGVhZGVy")
    error = assert_error_envelope(response, 401, "Security.Authentication.Header.DecryptFailed")
    assert error["code"] == 1


@pytest.mark.parametrize(("method", "path"), PROTECTED + OPEN)
def test_wrong_method(client, method, path):
    wrong = "PUT" if method != "PUT" else "PATCH"
    assert_error_envelope(client.generic(wrong, path), 404, "Common.NotFound")


@pytest.mark.parametrize(("method", "path"), PROTECTED + OPEN)
def test_trailing_slash_is_not_redirected(client, method, path):
    assert_error_envelope(client.generic(method, path + "/"), 404, "Common.NotFound")


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "err_code"),
    [
        ("POST", "/api/v1/ob/upgrade/check", b"{", 400, "Common.BindJsonFailed"),
        ("POST", "/api/v1/ob/upgrade/check", {"version": "4.3.0.1"}, 400, "Common.BindJsonFailed"),
        ("POST", "/api/v1/ob/upgrade", b"[]", 400, "Common.BindJsonFailed"),
        (
            "POST",
            "/api/v1/ob/upgrade",
            {"version": 1, "release": "a.b", "mode": "ROLLING"},
            400,
            "Common.BindJsonFailed",
        ),
        ("POST", "/api/v1/upgrade/package", {"file": "not multipart"}, 500, "Request.File.Missing"),
        ("DELETE", "/api/v1/upgrade/package/x1", None, 400, "Request.Query.Param.Illegal"),
        ("DELETE", "/api/v1/upgrade/package/0", None, 400, "Request.Path.Param.Empty"),
        ("GET", "/api/v1/task/dag/maintain/ob?show_details=maybe", None, 400, "Request.Query.Param.Illegal"),
        ("GET", "/api/v1/task/dag/maintain/ob", None, 404, "Task.NotFound"),
        ("GET", "/api/v1/task/dag/maintain/agent?show_details=2", None, 400, "Request.Query.Param.Illegal"),
        ("GET", "/api/v1/task/dag/maintain/agents?show_details=x", None, 400, "Request.Query.Param.Illegal"),
        ("GET", "/api/v1/task/dag/unfinish?show_details=x", None, 400, "Request.Query.Param.Illegal"),
        ("GET", "/api/v1/task/dag/ob/unfinish?show_details=x", None, 400, "Request.Query.Param.Illegal"),
        ("GET", "/api/v1/task/dag/agent/unfinish?show_details=x", None, 400, "Request.Query.Param.Illegal"),
        ("GET", "/api/v1/task/dags/ob?show_details=x", None, 400, "Request.Query.Param.Illegal"),
        ("GET", "/api/v1/task/dags/agent?show_details=x", None, 400, "Request.Query.Param.Illegal"),
        ("GET", "/api/v1/task/dag/1a", None, 400, "Task.GenericID.Invalid"),
        ("POST", "/api/v1/task/dag/1a", {"operator": "RETRY"}, 400, "Task.GenericID.Invalid"),
        ("POST", "/api/v1/task/dag/11", {"operator": "RETRY"}, 404, "Task.NotFound"),
        ("GET", "/api/v1/task/node/7", None, 400, "Task.GenericID.Invalid"),
        ("POST", "/api/v1/task/node/1", {"operator": "PASS"}, 400, "Task.GenericID.Invalid"),
        ("GET", "/api/v1/task/sub_task/1", None, 400, "Task.GenericID.Invalid"),
        ("GET", "/api/v1/task/sub_task/x/logs", None, 400, "Task.GenericID.Invalid"),
        ("GET", "/api/v1/task/sub_task/11/logs", None, 404, "Task.NotFound"),
    ],
)
def test_malformed_authenticated_requests(api, method, path, body, status, err_code):
    assert_error_envelope(api.call(method, path, body), status, err_code)


def test_body_too_large_is_an_envelope(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = api.post("/api/v1/ob/upgrade", {"version": "x" * 2000})
    assert_error_envelope(response, 400, "Common.BindJsonFailed")


def test_disallowed_host_is_an_envelope(client):
    assert_error_envelope(client.get("/api/v1/info", HTTP_HOST="evil.example:1"), 400, "Common.BadRequest")


@pytest.mark.parametrize(("method", "path"), OPEN)
def test_open_routes_ignore_query_noise(client, method, path):
    response = client.generic(method, path + "?show_details=%ZZ&x")
    assert response.status_code == 200 and response.json()["successful"] is True
