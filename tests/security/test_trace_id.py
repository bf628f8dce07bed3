"""Trace ids are bounded (issue 9): an X-OBSHELL-Trace-ID that does not match ^[A-Za-z0-9._-]{1,64}$ is
replaced by a generated one. A 200-character one used to be stored as is, so on PostgreSQL (trace_id is 64
characters) the audit insert of a failed authentication failed and the failure was never recorded."""

import re

import pytest

from tests.api.signing import as_meta, v2_request
from upgrades.models import AuditEntry

pytestmark = pytest.mark.django_db
INFO = "/api/v1/ob/info"
GENERATED = re.compile(r"^[0-9a-f]{16}$")
LONG = "a" * 200


def refused_with_trace(client, trace):
    """An anonymous (header-less) call: refused, and its refusal audited with the request's trace id."""
    response = client.get(INFO, HTTP_X_OBSHELL_TRACE_ID=trace)
    assert response.status_code == 400
    body = response.json()
    assert body["error"]["errCode"] == "Request.Header.NotFound"
    entry = AuditEntry.objects.get(action=AuditEntry.Action.API_AUTH)
    assert entry.trace_id == body["traceId"]
    return body["traceId"]


def test_a_200_character_trace_id_is_replaced_and_the_failure_audited(client):
    assert GENERATED.match(refused_with_trace(client, LONG))


@pytest.mark.postgres
def test_a_200_character_trace_id_is_replaced_and_the_failure_audited_on_postgresql(client):
    assert GENERATED.match(refused_with_trace(client, LONG))


@pytest.mark.parametrize(
    "trace",
    ["a" * 65, "has space", "semi;colon", "tab\tbed", "new\nline", "trailing\n", "ünïcode", "<script>", "a/b", ""],
)
def test_a_trace_id_outside_the_pattern_is_replaced(client, trace):
    assert GENERATED.match(refused_with_trace(client, trace))


@pytest.mark.parametrize("trace", ["a" * 64, "Trace-1.2_x", "0", "ABC.def-123_456"])
def test_a_trace_id_inside_the_pattern_is_kept(client, trace):
    assert refused_with_trace(client, trace) == trace


def test_a_signed_call_replaces_a_long_trace_id_and_its_refusal_is_audited(api):
    headers, _ = v2_request(api.public_key, password=api.password, uri=INFO)
    first = api.client.get(INFO, **as_meta(headers), HTTP_X_OBSHELL_TRACE_ID=LONG)
    assert first.status_code == 200 and GENERATED.match(first.json()["traceId"])
    # The same header again names a real token: refused, and audited per request under that token.
    again = api.client.get(INFO, **as_meta(headers), HTTP_X_OBSHELL_TRACE_ID=LONG)
    assert again.status_code == 401
    entry = AuditEntry.objects.get(action=AuditEntry.Action.API_AUTH)
    assert entry.actor_token is not None and entry.trace_id == again.json()["traceId"]
    assert GENERATED.match(entry.trace_id)
