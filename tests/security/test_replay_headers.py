"""Headers cannot be replayed in another spelling (issue 9): the replay cache keys on the decrypted content
and every RSA block, only canonical base64 is read, spliced blocks are refused, v1 (which binds no uri) is off
unless asked for, a `ts` too far ahead is refused, and cache entries live as long as the header is valid."""

import base64
import json
import time

import pytest

from tests.api.signing import CHUNK, as_meta, rsa_encrypt_chunks, v1_request
from upgrades.models import SeenHeader

pytestmark = pytest.mark.django_db
INFO = "/api/v1/ob/info"
KEY_BYTES = 128


def header(api, *, blocks, uri=INFO, ts=None, **fields):
    """An X-OCS-Header whose JSON exactly fills `blocks` SDK chunks (a filler key the server ignores)."""
    document = {"auth": api.password, "ts": ts or str(int(time.time()) + 60), "uri": uri, **fields, "x": ""}
    document["x"] = "x" * (blocks * CHUNK - len(json.dumps(document).encode()))
    assert len(json.dumps(document).encode()) == blocks * CHUNK
    return rsa_encrypt_chunks(api.public_key, json.dumps(document).encode())


def get(api, value, uri=INFO):
    return api.client.get(uri, HTTP_X_OCS_HEADER=value)


def error_of(response):
    return response.json()["error"]


def _set_spare_bits(value):
    """The same bytes in another spelling: the unused low bits of the last base64 character set."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    text = value.rstrip("=")
    padding = len(value) - len(text)
    assert padding, "needs a length that leaves spare bits"
    last = alphabet.index(text[-1]) | (0b11 if padding == 1 else 0b1111)
    respelled = text[:-1] + alphabet[last] + "=" * padding
    assert respelled != value and base64.b64decode(respelled) == base64.b64decode(value)
    return respelled


def test_a_header_respelled_with_spare_bits_is_refused(api):
    value = header(api, blocks=4)  # 512 bytes: the base64 ends in one '=' and two spare bits
    assert get(api, value).status_code == 200
    response = get(api, _set_spare_bits(value))
    assert response.status_code == 401
    assert error_of(response)["errCode"] == "Security.Authentication.Header.DecryptFailed"
    assert "canonical" in error_of(response)["message"]


def test_a_header_respelled_with_extra_padding_is_refused(api):
    value = header(api, blocks=3)  # 384 bytes: no padding needed, yet Python's decoder takes '===='
    assert get(api, value).status_code == 200
    response = get(api, value + "====")
    assert response.status_code == 401
    assert error_of(response)["errCode"] == "Security.Authentication.Header.DecryptFailed"


def test_a_non_canonical_header_is_refused_even_on_first_use(api):
    response = get(api, _set_spare_bits(header(api, blocks=4)))
    assert response.status_code == 401
    assert error_of(response)["errCode"] == "Security.Authentication.Header.DecryptFailed"


def _blocks(value):
    raw = base64.b64decode(value)
    return [raw[i : i + KEY_BYTES] for i in range(0, len(raw), KEY_BYTES)]


def test_a_header_spliced_from_two_used_headers_is_refused(api):
    ts = str(int(time.time()) + 60)
    # Same uri and ts, different AES keys: the spliced JSON is valid, with keys neither client sent.
    a = header(api, blocks=4, ts=ts, keys=base64.b64encode(b"A" * 32).decode())
    b = header(api, blocks=4, ts=ts, keys=base64.b64encode(b"B" * 32).decode())
    assert get(api, a).status_code == 200
    assert get(api, b).status_code == 200
    spliced = base64.b64encode(b"".join(_blocks(a)[:2] + _blocks(b)[2:])).decode()
    response = get(api, spliced)
    assert response.status_code == 401
    assert error_of(response) == {
        "code": 10008,
        "errCode": "Common.Unauthorized",
        "message": "Unauthorized: this auth header has been used before",
    }


def test_blocks_that_are_not_chunks_of_one_document_are_refused(api):
    # Chunks of 53, 20 and 53 bytes: no client cuts a header so; a splice of differently cut headers does.
    document = json.dumps({"auth": api.password, "ts": str(int(time.time()) + 60), "uri": INFO}).encode()
    pieces = [document[:53], document[53:73], document[73:]]
    value = base64.b64encode(
        b"".join(base64.b64decode(rsa_encrypt_chunks(api.public_key, p, chunk=len(p))) for p in pieces)
    ).decode()
    response = get(api, value)
    assert response.status_code == 401
    assert error_of(response)["errCode"] == "Security.Authentication.Header.DecryptFailed"
    assert "one document" in error_of(response)["message"]


def _operate(api, headers):
    """A POST that gets past authentication only to find no such DAG (404): harmless, and telling."""
    return api.client.post(
        "/api/v1/task/dag/1999", data=json.dumps({"operator": "RETRY"}), content_type="text/plain", **as_meta(headers)
    )


def test_v1_is_off_by_default_so_a_captured_get_header_authorises_nothing(api):
    captured = v1_request(api.public_key, password=api.password)  # as sent on a GET
    response = _operate(api, captured)
    assert response.status_code == 400
    assert error_of(response)["errCode"] == "Request.Header.NotFound"
    assert api.client.get("/api/v1/info").json()["data"]["supportedAuth"] == ["v2"]


def test_with_v1_on_a_header_used_on_a_get_authorises_no_post_in_any_spelling(api, settings):
    settings.OCS_AUTH_V1 = True
    captured = v1_request(api.public_key, password=api.password)
    assert api.client.get(INFO, **as_meta(captured)).status_code == 200
    for value in (captured["X-OCS-Auth"], _set_spare_bits(captured["X-OCS-Auth"])):
        response = _operate(api, {"X-OCS-Auth": value})
        assert response.status_code == 401, response.content


@pytest.mark.parametrize(("ahead", "status"), [(60, 200), (890, 200), (902, 401), (10 * 365 * 86400, 401)])
def test_a_ts_too_far_ahead_is_refused(api, ahead, status):
    response = get(api, header(api, blocks=4, ts=str(int(time.time()) + ahead)))
    assert response.status_code == status, response.content
    if status == 401:
        assert error_of(response)["errCode"] == "Security.Authentication.Timestamp.Invalid"


def test_the_lifetime_bound_is_a_setting(api, settings):
    settings.OCS_MAX_HEADER_LIFETIME_SECONDS = 30
    assert get(api, header(api, blocks=4, ts=str(int(time.time()) + 60))).status_code == 401


def test_cache_entries_live_as_long_as_the_header_is_valid(api, settings):
    settings.REDIS_URL = ""
    ts = int(time.time()) + 45
    assert get(api, header(api, blocks=4, ts=str(ts))).status_code == 200
    # A header is refused only once now > ts: it is valid through the whole ts second.
    assert {row.expires_at.timestamp() for row in SeenHeader.objects.all()} == {ts + 1}


@pytest.mark.redis
def test_the_redis_cache_refuses_splices_and_keeps_entries_while_the_header_is_valid(api, settings):
    import os

    import redis

    settings.REDIS_URL = os.environ["REDIS_URL"]
    test_a_header_spliced_from_two_used_headers_is_refused(api)
    ts = int(time.time()) + 45
    value = header(api, blocks=4, ts=str(ts))
    assert get(api, value).status_code == 200
    from upgrades.security.crypto import rsa_decrypt_header
    from upgrades.security.replay import header_digests

    client = redis.Redis.from_url(settings.REDIS_URL)
    ttls = {client.ttl(f"ocs:seen-header:{d}") for d in header_digests(rsa_decrypt_header(value))}
    assert len(ttls) == 1 and 0 < ttls.pop() <= ts + 1 - int(time.time()) + 1
