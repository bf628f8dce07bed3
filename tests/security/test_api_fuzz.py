"""A property-based fuzz of the whole obshell API from its OpenAPI document (schemathesis + hypothesis).

For every operation in /api/schema, schemathesis generates requests (valid ones and, where the operation has
something to break, invalid ones); `sign()` signs each like SDK 0.0.9 (X-OCS-Header v2: RSA-encrypted JSON
header, AES-encrypted body; tests/api/signing.py) or, for some, breaks the authentication on purpose, and
sends it in-process through Django's test client (no socket, no other host). Each answer must:
- be the envelope with the shape documented for its route and status (schemathesis' schema, status-code and
  content-type conformance checks, and its negative-data check: invalid input is refused with a 4xx);
- not be a 500 unless the route documents that obshell 500 (conflicts, OB.Package.InUse, ...), and never the
  crash answer;
- if refused (>= 400), have changed nothing outside the audit, auth-throttle and replay tables.

FUZZ_MAX_EXAMPLES (default 10) bounds the examples per operation and generation mode; run it longer with
`FUZZ_MAX_EXAMPLES=1000 .venv/bin/python -m pytest tests/security/test_api_fuzz.py -p no:randomly`.
"""

import hashlib
import ipaddress
import json
import os
import socket
import time
import traceback
from urllib.parse import unquote, urlencode

import pytest
import requests
import schemathesis
from django.apps import apps
from django.test import Client
from django.utils.encoding import escape_uri_path
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core import NotSet
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.signing import as_meta, v2_request
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.factories import make_user
from tests.support.packages import ingest_rpms, write_rpms
from upgrades.api.envelope import UNEXPECTED

pytestmark = [pytest.mark.django_db, pytest.mark.slow, pytest.mark.fuzz]

MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "10"))
# What a refused request may change: the audit, the auth-failure throttle and the replay cache (and the
# token's last use, which authentication records before the view refuses the request).
MAY_CHANGE = {"upgrades.auditentry", "upgrades.seenheader", "upgrades.authfailuretally"}
MAY_CHANGE_APPS = {"axes"}
IGNORED_FIELDS = {"upgrades.apitoken": {"last_used_at"}}
# Mostly valid v2 requests, so that the views themselves are fuzzed; some with broken authentication.
# Sessions (viewer: reads only; operator: changes too) send plain bodies.
AUTH_MODES = ["v2"] * 6 + ["none", "wrong-token", "expired", "garbage", "viewer-session", "operator-session"]
SESSIONS = ("viewer-session", "operator-session")
TRACE = {"x-obshell-trace-id"}  # the one documented request header


def _document():
    from drf_spectacular.generators import SchemaGenerator

    return SchemaGenerator().get_schema(request=None, public=True)


def db_snapshot():
    """A digest of every row of every table a refused request must leave alone."""
    digests = {}
    for model in apps.get_models():
        label = model._meta.label_lower
        if label in MAY_CHANGE or model._meta.app_label in MAY_CHANGE_APPS:
            continue
        fields = [f.attname for f in model._meta.concrete_fields if f.attname not in IGNORED_FIELDS.get(label, ())]
        rows = model.objects.order_by("pk").values_list(*fields)
        digests[label] = hashlib.sha256(repr(list(rows)).encode()).hexdigest()
    return digests


# --- signing and sending ---------------------------------------------------------------------------------------


def _body_bytes(case):
    """(plaintext bytes, content type) of the generated body, encoded for its media type."""
    body = case.body
    if isinstance(body, NotSet):
        return b"", "text/plain"
    media_type = case.media_type or "application/json"
    if media_type.startswith("multipart/form-data"):
        if isinstance(body, dict):
            files, data = {}, {}
            for key, value in body.items():
                if key == "file":
                    content = value if isinstance(value, bytes) else str(value).encode()
                    files[key] = ("fuzz.rpm", content)
                else:
                    data[key] = value if isinstance(value, str | bytes) else json.dumps(value)
            prepared = requests.Request("POST", "http://testserver/", files=files or None, data=data or None).prepare()
            raw = prepared.body or b""
            raw = raw.encode() if isinstance(raw, str) else raw
            return raw, prepared.headers.get("Content-Type", "multipart/form-data; boundary=fuzz")
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return raw, "multipart/form-data; boundary=fuzz"
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return raw, "text/plain"  # the SDK sends JSON bodies with no JSON content type (spec 2.5)


def _query_string(query):
    if not query:
        return ""
    pairs = []
    for key, value in query.items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            pairs.append((str(key), item if isinstance(item, str) else json.dumps(item)))
    return urlencode(pairs)


def sign(case, *, public_key, token, auth):
    """The signing hook: (target as sent, Django test-client meta, body bytes, content type) for one case.

    The header's uri is the target the server reads back (Django rebuilds the path from PATH_INFO and
    re-escapes it), so a correctly signed request passes the uri check whatever the generated path."""
    path = case.formatted_path
    query = _query_string(case.query)
    sent = path + (f"?{query}" if query else "")
    signed_uri = escape_uri_path(unquote(path)) + (f"?{query}" if query else "")
    plaintext, content_type = _body_bytes(case)
    extra = as_meta({name: str(value) for name, value in (case.headers or {}).items() if name.lower() in TRACE})
    if auth == "none" or auth in SESSIONS:
        return sent, extra, plaintext, content_type
    if auth == "garbage":
        return sent, {**extra, **as_meta({"X-OCS-Header": "bm90IGEgaGVhZGVy"})}, plaintext, content_type
    password = token if auth != "wrong-token" else token + "x"
    ts = str(int(time.time()) - 5) if auth == "expired" else None
    headers, data = v2_request(public_key, password=password, uri=signed_uri, body=plaintext or None, ts=ts)
    return sent, {**extra, **as_meta(headers)}, data, content_type


def as_schemathesis_response(django_response, method, target, headers, body):
    request = requests.Request(method, "http://testserver" + target, headers=headers, data=body).prepare()
    return schemathesis.Response(
        status_code=django_response.status_code,
        headers={name: [value] for name, value in django_response.items()},
        content=django_response.content,
        request=request,
        elapsed=0.0,
        verify=False,
        message=django_response.reason_phrase,
    )


# --- checks beyond schemathesis' own ---------------------------------------------------------------------------


def no_crash(ctx, response, case):
    """A 500 is one of obshell's known errors (documented per route, checked by the schema), never the crash
    answer (an unhandled exception)."""
    if response.status_code >= 500:
        error = response.json().get("error", {})
        if error.get("message") == UNEXPECTED.message:
            raise AssertionError(f"{case.operation.label} crashed: {response.text}")
    return None


CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance, no_crash]


# --- the fuzz --------------------------------------------------------------------------------------------------


def _is_loopback(host):
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return ipaddress.ip_address(socket.gethostbyname(host)).is_loopback


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Requests go through Django's test client in-process; nothing here may reach another host."""
    connect = socket.socket.connect

    def guarded(sock, address):
        host = address[0] if isinstance(address, tuple) else None
        if host is not None and not _is_loopback(host):
            raise AssertionError(f"the fuzz tried to reach {address}")
        return connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def world(cluster, token, tmp_path, settings):
    """A cluster with uploaded packages, a finished (failed, with logs) check DAG and a started upgrade, so
    generated requests can also name real clusters, DAGs, nodes, sub-tasks and packages."""
    from upgrades.audit import Actor
    from upgrades.backends.faults import fault_inject
    from upgrades.engine.runner import run_dag_to_end
    from upgrades.models import Node, Package, SubTask
    from upgrades.services.dag_start import upgrade_check_start

    settings.API_AUTH_FREE_FAILURES = 10**9  # refused requests are the point here: never slow them down
    rpms = write_rpms(TARGET, tmp_path / "rpms")
    ingest_rpms(TARGET, tmp_path / "stored")
    fault_inject(cluster=cluster, node_name="Create upgrade dir")
    failed = upgrade_check_start(
        cluster=cluster, version=TARGET.version, release=TARGET.release, actor=Actor.system("fuzz")
    )
    run_dag_to_end(failed.pk)
    ids = [failed.generic_id]
    ids += [n.generic_id for n in Node.objects.filter(dag=failed)[:3]]
    ids += [s.generic_id for s in SubTask.objects.filter(dag=failed)[:3]]
    sessions = {}
    for mode in SESSIONS:
        sessions[mode] = Client()
        sessions[mode].force_login(make_user(role=mode.split("-")[0]))
        sessions[mode].raise_request_exception = False
    return {
        "sessions": sessions,
        # Values a valid body may carry instead of generated ones, to reach past the first refusals.
        "body": {
            "file": [path.read_bytes() for path in rpms],
            "version": [TARGET.version],
            "release": [TARGET.release],
            "mode": ["ROLLING", "STOPSERVICE", "rolling"],
            "operator": ["RETRY", "ROLLBACK", "CANCEL", "PASS", "pass"],
        },
        "cluster_name": [cluster.name],
        "generic_id": ids,
        "package_id": [str(pk) for pk in Package.objects.values_list("pk", flat=True)],
    }


def _operations():
    schema = schemathesis.openapi.from_dict(_document())
    return schema, [result.ok() for result in schema.get_all_operations()]


def _strategies(operation):
    strategies = [operation.as_strategy(generation_mode=GenerationMode.POSITIVE)]
    if operation.body or any(True for _ in operation.iter_parameters()):
        strategies.append(operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
    return st.one_of(strategies)


def _fuzz_operation(operation, *, client, token, public_key, world, max_examples=MAX_EXAMPLES, shrink=True):
    @settings(
        max_examples=max_examples,
        phases=list(Phase) if shrink else [Phase.generate],
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_strategies(operation), auth=st.sampled_from(AUTH_MODES), real=st.data())
    def run(case, auth, real):
        for name in list(case.path_parameters or {}):
            if name in world and real.draw(st.booleans(), label=f"real {name}"):
                case.path_parameters[name] = real.draw(st.sampled_from(world[name]), label=name)
        # Decided before the substitutions below, which schemathesis would otherwise re-judge (rpm bytes are not
        # a JSON string to it).
        negative = case.meta is not None and case.meta.generation.mode == GenerationMode.NEGATIVE
        if not negative and isinstance(case.body, dict):
            for name in list(case.body):
                if name in world["body"] and real.draw(st.booleans(), label=f"real {name}"):
                    case.body[name] = real.draw(st.sampled_from(world["body"][name]), label=name)
        target, meta, body, content_type = sign(case, public_key=public_key, token=token, auth=auth)
        before = db_snapshot()
        sender = world["sessions"][auth] if auth in SESSIONS else client
        response = sender.generic(case.method, target, data=body, content_type=content_type, **meta)
        headers = {k[5:].replace("_", "-"): v for k, v in meta.items()}
        answer = as_schemathesis_response(response, case.method, target, headers, body)
        checks = list(CHECKS)
        if auth == "v2" and negative:
            checks.append(negative_data_rejection)
        if os.environ.get("FUZZ_TRACE"):
            print("FUZZ", auth, case.method, target[:60], response.status_code, response.content[-160:])
        case.validate_response(answer, checks=checks)
        if response.status_code >= 400:
            after = db_snapshot()
            changed = sorted(label for label in before if before[label] != after[label])
            assert not changed, f"refused {case.method} {target} ({response.status_code}) changed {changed}"

    run()


def _public_key():
    from tests.api.signing import load_public_key
    from upgrades.security.keys import public_key_pkcs1_b64

    return load_public_key(public_key_pkcs1_b64())


def test_fuzz_every_operation(client, token, world):
    client.raise_request_exception = False  # a crash must come back as the envelope, and fail a check
    public_key = _public_key()
    _schema, operations = _operations()
    assert len(operations) >= 40
    for operation in operations:
        try:
            _fuzz_operation(operation, client=client, token=token, public_key=public_key, world=world)
        except Exception as exc:
            exc.add_note(f"while fuzzing {operation.label}")
            raise


# --- the fuzz can fail: each of its checks catches a planted fault ----------------------------------------------


def _fuzz_one(label, *, client, token, world):
    client.raise_request_exception = False
    _schema, operations = _operations()
    operation = next(op for op in operations if op.label == label)
    try:
        _fuzz_operation(
            operation, client=client, token=token, public_key=_public_key(), world=world, max_examples=5, shrink=False
        )
    except BaseException as exc:  # schemathesis reports an ExceptionGroup of its failures
        return "".join(traceback.format_exception(exc))
    raise AssertionError(f"fuzzing {label} found nothing")


def test_the_fuzz_catches_a_refused_request_that_changes_state(client, token, world, monkeypatch):
    from upgrades.api import selectors
    from upgrades.models import Cluster, Fault

    lookup = selectors.sub_task_by_generic_id

    def leaky(caller, generic_id):
        Fault.objects.create(cluster=Cluster.objects.first(), node_name="planted")
        return lookup(caller, generic_id)

    monkeypatch.setattr(selectors, "sub_task_by_generic_id", leaky)
    report = _fuzz_one("GET /api/v1/task/sub_task/{generic_id}", client=client, token=token, world=world)
    assert "changed ['upgrades.fault']" in report


def test_the_fuzz_catches_a_crash(client, token, world, monkeypatch):
    from upgrades.api import agent

    def boom(*args, **kwargs):
        raise RuntimeError("planted")

    monkeypatch.setattr(agent, "status", boom)
    report = _fuzz_one("POST /api/v1/status", client=client, token=token, world=world)
    assert "POST /api/v1/status crashed" in report and "Undocumented status code" in report


def test_the_fuzz_catches_an_undocumented_shape(client, token, world, monkeypatch):
    from upgrades.api import agent

    info = agent.info
    monkeypatch.setattr(agent, "info", lambda *a, **k: {**info(*a, **k), "planted": True})
    report = _fuzz_one("GET /api/v1/info", client=client, token=token, world=world)
    assert "Response violates schema" in report and "planted" in report


# --- regressions: what the fuzz found -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "body"),
    [
        ("/api/v1/ob/upgrade/check", {"version": "4.3.0.1", "release": "g\x00"}),
        ("/api/v1/ob/upgrade", {"version": "4\x00", "release": "1.el7", "mode": "ROLLING"}),
        ("/api/v1/ob/upgrade", {"version": "4.3.0.1", "release": "1.el7", "mode": "ROLLING", "reason": "a\x00"}),
    ],
)
def test_a_nul_character_in_a_bound_string_is_refused(api, client, uri, body):
    """Found on PostgreSQL: a NUL in a body string reached the refusal's audit entry (jsonb stores no NUL), and
    the insert crashed the request (500 Common.Unexpected). Bound strings with a NUL are now 400."""
    client.raise_request_exception = False
    response = api.post(uri, body)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["errCode"] == "Common.BindJsonFailed" and "NUL character" in error["message"]


def test_a_nul_character_in_a_refused_path_is_audited_without_it(client):
    """Found on PostgreSQL: an anonymous request to a path with %00 was refused, and auditing the refusal (the
    path is in its detail) crashed the request. The audit now writes a NUL as the four characters \\x00."""
    from upgrades.models import AuditEntry

    client.raise_request_exception = False
    response = client.get("/api/v1/task/dag/1%00")
    assert response.status_code == 400, response.content
    entry = AuditEntry.objects.filter(action=AuditEntry.Action.API_AUTH).latest("id")
    assert entry.detail["path"] == "/api/v1/task/dag/1\\x00"
