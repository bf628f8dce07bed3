"""Limits: `reason` is capped as the pages cap it, in the API's binding, the run page and the services; a
request whose declared size exceeds what its route accepts is refused before its body is read, at the ASGI
door and inside daphne (before Twisted buffers the body)."""

import asyncio
import json
import socket

import pytest
from django.conf import settings as django_settings

from dashboard.pages.forms import UpgradeForm
from tests.security.asgi_door import messages_read_past_the_door
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_user
from tests.support.packages import ingest_rpms
from upgrades.api.asgi import stamp_receipt_time
from upgrades.audit import Actor
from upgrades.errors import ObshellError
from upgrades.models import AuditEntry, Dag

UPGRADE = "/api/v1/ob/upgrade"
PAGES_LIMIT = 2000  # the upgrade form's and the fault form's max_length before the API had one
LONG = "x" * (PAGES_LIMIT + 1)


@pytest.fixture
def packages(tmp_path, cluster):
    return ingest_rpms(TARGET, tmp_path / "rpms")


def _upgrade_body(reason):
    return {"version": TARGET.version, "release": TARGET.release, "mode": "ROLLING", "reason": reason}


# -- reason --------------------------------------------------------------------------------------------------


def test_the_pages_and_the_api_share_one_limit():
    from upgrades.audit import REASON_MAX_LENGTH

    assert REASON_MAX_LENGTH == PAGES_LIMIT
    form = UpgradeForm.base_fields["reason"]
    assert form.max_length == REASON_MAX_LENGTH
    from dashboard.pages.views_faults import FaultArmForm

    assert FaultArmForm.base_fields["reason"].max_length == REASON_MAX_LENGTH


@pytest.mark.django_db
def test_the_api_refuses_a_reason_over_the_limit(api, packages):
    response = api.post(UPGRADE, _upgrade_body(LONG))
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["errCode"] == "Common.BindJsonFailed"
    assert "'ObUpgradeParam.Reason'" in error["message"] and "'max' tag" in error["message"]
    assert not Dag.objects.exists()
    assert not AuditEntry.objects.filter(reason=LONG).exists()


@pytest.mark.django_db
def test_the_api_accepts_a_reason_at_the_limit(api, packages):
    response = api.post(UPGRADE, _upgrade_body("y" * PAGES_LIMIT))
    assert response.status_code == 200, response.content


@pytest.mark.django_db
def test_the_operator_routes_refuse_a_reason_over_the_limit(api, packages, cluster):
    dag = start_upgrade(cluster, TARGET)
    response = api.post(f"/api/v1/task/dag/1{dag.pk}", {"operator": "CANCEL", "reason": LONG})
    assert response.status_code == 400, response.content
    assert "'DagOperator.Reason'" in response.json()["error"]["message"]
    dag.refresh_from_db()
    assert dag.state != "FAILED" and dag.operator != "CANCEL"


@pytest.mark.django_db
def test_the_services_refuse_a_reason_over_the_limit(packages, cluster):
    from upgrades.services.dag_operators import dag_operate

    with pytest.raises(ObshellError) as raised:
        start_upgrade(cluster, TARGET, reason=LONG)
    assert raised.value.err_code == "Common.IllegalArgument" and raised.value.status == 400
    assert not Dag.objects.exists()
    dag = start_upgrade(cluster, TARGET, reason="fine")
    with pytest.raises(ObshellError):
        dag_operate(dag=dag, operator="CANCEL", actor=Actor.system("test"), reason=LONG)


@pytest.mark.django_db
def test_the_run_page_refuses_a_reason_over_the_limit(client, packages, cluster):
    dag = start_upgrade(cluster, TARGET)
    client.force_login(make_user("operator"))
    response = client.post(
        f"/runs/{dag.pk}/operate/",
        data=json.dumps({"action": "cancel", "reason": LONG}),
        content_type="application/json",
    )
    assert response.status_code == 400
    assert str(PAGES_LIMIT) in response.json()["error"]["message"]


# -- the ASGI door -------------------------------------------------------------------------------------------


def _through_the_door(method, path, declared):
    called, sent = [], []

    async def app(scope, receive, send):
        called.append(scope)

    async def receive():
        raise AssertionError("the body must not be read")

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": [(b"content-length", str(declared).encode())]}
    asyncio.run(stamp_receipt_time(app)(scope, receive, send))
    return called, sent


@pytest.mark.parametrize("path", [UPGRADE, "/clusters/c1/api/v1/task/dag/11", "/api/v1/info"])
def test_the_door_refuses_a_json_route_declaring_more_than_the_limit(path):
    called, sent = _through_the_door("POST", path, django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    assert called == []
    assert sent[0]["status"] == 400
    body = json.loads(sent[1]["body"])
    assert body["successful"] is False and body["error"]["errCode"] == "Common.BindJsonFailed"


def test_the_door_refuses_a_page_declaring_more_than_the_limit():
    called, sent = _through_the_door("POST", "/login/", django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    assert called == [] and sent[0]["status"] == 413
    assert b"DATA_UPLOAD_MAX_MEMORY_SIZE" in sent[1]["body"]


def test_the_door_lets_a_body_at_the_limit_through():
    called, sent = _through_the_door("POST", UPGRADE, django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    assert len(called) == 1 and sent == []


def test_the_door_stops_an_undeclared_json_body_at_the_limit(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    seen = messages_read_past_the_door(UPGRADE, chunk_size=600)
    assert seen == ["http.request", "http.disconnect"]


# -- inside daphne -------------------------------------------------------------------------------------------


def _raw_request(server, head):
    """Send only the request head (no body byte) and read the answer: it must come without the body."""
    host, port = server.url.split("//", 1)[1].split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head)
        received = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                raise AssertionError(f"no answer before the body was sent; got {received!r}") from None
            if not chunk:
                break
            received += chunk
    status_line, _, rest = received.partition(b"\r\n")
    headers, _, body = rest.partition(b"\r\n\r\n")
    return int(status_line.split()[1]), headers.decode("latin-1").lower(), body


@pytest.mark.django_db(transaction=True)
def test_daphne_refuses_a_declared_size_before_the_body_arrives(live_server_factory):
    server = live_server_factory(PACKAGE_MAX_BYTES=1000)
    gigabyte = 1024**3
    status, headers, body = _raw_request(
        server,
        f"POST {UPGRADE} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
        f"Content-Length: {gigabyte}\r\n\r\n".encode(),
    )
    assert status == 400 and "application/json" in headers
    assert json.loads(body)["error"]["errCode"] == "Common.BindJsonFailed"
    status, headers, body = _raw_request(
        server,
        "POST /api/v1/upgrade/package HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; "
        f"boundary=x\r\nContent-Length: {gigabyte}\r\n\r\n".encode(),
    )
    assert status == 400 and json.loads(body)["error"]["errCode"] == "OB.Package.TooLarge"
    status, _, body = _raw_request(
        server,
        f"POST /login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {gigabyte}\r\n\r\n".encode(),
    )
    assert status == 413 and b"DATA_UPLOAD_MAX_MEMORY_SIZE" in body
