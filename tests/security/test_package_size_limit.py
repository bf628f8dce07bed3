"""Uploads are capped by PACKAGE_MAX_BYTES before they are stored: in the API (the declared size, then the
bytes read), at the ASGI door, in the pages and in `add_package`; refused with 400 OB.Package.TooLarge in
obshell's envelope, nothing stored, no temporary file left."""

import asyncio
import json

import pytest
from django.core.management import CommandError, call_command

from tests.api.helpers import multipart
from tests.api.signing import as_meta, v2_request
from tests.packages.helpers import stored_files
from tests.security.asgi_door import messages_read_past_the_door
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.factories import make_user
from tests.support.packages import write_rpms
from upgrades.api.asgi import stamp_receipt_time
from upgrades.models import Package

pytestmark = pytest.mark.django_db
UPLOAD = "/api/v1/upgrade/package"
TOO_LARGE = "OB.Package.TooLarge"


@pytest.fixture
def rpm(tmp_path):
    return write_rpms(TARGET, tmp_path / "rpms")[0]


def _nothing_stored(settings):
    assert Package.objects.count() == 0
    assert stored_files(settings) == []


def _api_upload(api, path):

    data, content_type = multipart(path)
    headers, encrypted = v2_request(api.public_key, password=api.password, uri=UPLOAD, body=data)
    return api.client.generic("POST", UPLOAD, data=encrypted, content_type=content_type, **as_meta(headers))


def _refused(response):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["successful"] is False and body["status"] == 400
    assert body["error"]["errCode"] == TOO_LARGE
    assert "PACKAGE_MAX_BYTES" in body["error"]["message"]


def test_the_default_is_two_gib_of_file_and_the_wire_allowance_follows():
    from django.conf import settings

    from upgrades.packages import limits

    assert settings.PACKAGE_MAX_BYTES == 2 * 1024**3
    plain = limits.wire_allowance(encrypted=False)
    assert plain == 2 * 1024**3 + limits.MULTIPART_OVERHEAD
    # base64 of AES-CBC (one padding block at most), with room for line breaks
    assert 4 * (plain + 16) / 3 < limits.wire_allowance(encrypted=True) < 4 * (plain + 16) / 3 * 1.03


def test_api_refuses_a_declared_body_over_the_allowance(api, rpm, settings):
    settings.PACKAGE_MAX_BYTES = rpm.stat().st_size // 3
    _refused(_api_upload(api, rpm))
    _nothing_stored(settings)


def test_api_refuses_a_file_over_the_limit_inside_the_allowance(api, rpm, settings):
    # The multipart overhead lets the body through the declared check: the upload handler stops the file.
    settings.PACKAGE_MAX_BYTES = rpm.stat().st_size - 1
    _refused(_api_upload(api, rpm))
    _nothing_stored(settings)


def test_api_accepts_a_file_at_the_limit(api, rpm, settings):
    settings.PACKAGE_MAX_BYTES = rpm.stat().st_size
    assert _api_upload(api, rpm).status_code == 200
    assert Package.objects.count() == 1


def test_add_package_refuses_a_file_over_the_limit(rpm, settings):
    settings.PACKAGE_MAX_BYTES = rpm.stat().st_size - 1
    with pytest.raises(CommandError) as raised:
        call_command("add_package", str(rpm))
    assert str(raised.value).startswith(f"{rpm.name}: {TOO_LARGE}: The package is larger than the limit of ")
    _nothing_stored(settings)


@pytest.mark.parametrize("over", [1, 10 * 1024 * 1024])
def test_the_packages_page_refuses_a_file_over_the_limit(client, rpm, settings, over):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    client.force_login(make_user("admin"))
    settings.PACKAGE_MAX_BYTES = max(rpm.stat().st_size - over, 1)
    with open(rpm, "rb") as handle:
        response = client.post("/packages/upload/", {"file": handle})
    assert response.status_code == 400
    html = response.content.decode()
    assert TOO_LARGE in html and "PACKAGE_MAX_BYTES" in html
    _nothing_stored(settings)


@pytest.mark.parametrize(
    ("path", "is_api"), [(UPLOAD, True), ("/clusters/c1/api/v1/upgrade/package", True), ("/packages/upload/", False)]
)
def test_the_asgi_door_refuses_a_declared_size_before_the_body_is_read(path, is_api):
    from upgrades.packages import limits

    called = []

    async def app(scope, receive, send):
        called.append(scope)

    declared = limits.wire_allowance(encrypted=True) + 1
    scope = {"type": "http", "method": "POST", "path": path, "headers": [(b"content-length", str(declared).encode())]}
    sent = []

    async def receive():
        raise AssertionError("the body must not be read")

    async def send(message):
        sent.append(message)

    asyncio.run(stamp_receipt_time(app)(scope, receive, send))
    assert called == []
    assert sent[0]["status"] == 400
    if is_api:
        assert json.loads(sent[1]["body"])["error"]["errCode"] == TOO_LARGE
    else:
        assert b"PACKAGE_MAX_BYTES" in sent[1]["body"]


def test_the_asgi_door_stops_reading_an_undeclared_body_at_the_allowance(settings):
    settings.PACKAGE_MAX_BYTES = 1000
    seen = messages_read_past_the_door(UPLOAD, chunk_size=50_000)
    assert seen[-1] == "http.disconnect" and len(seen) <= 3
