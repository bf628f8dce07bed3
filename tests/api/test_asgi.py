import asyncio

from upgrades.api import asgi


def run(app, scope):
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def http_scope(headers):
    return {"type": "http", "method": "GET", "path": "/api/v1/info", "headers": headers}


def test_receipt_time_is_stamped_and_the_internal_header_removed():
    seen = {}

    async def inner(scope, receive, send):
        seen.update(scope)

    stamped = 1700000000.5
    forged = (asgi.RECEIVED_HEADER, b"0000 1.0")
    genuine = (asgi.RECEIVED_HEADER, asgi._NONCE + b" " + repr(stamped).encode())
    run(asgi.stamp_receipt_time(inner), http_scope([(b"host", b"x"), genuine]))
    assert seen["ocs_received_at"] == stamped
    assert seen["headers"] == [(b"host", b"x")]
    run(asgi.stamp_receipt_time(inner), http_scope([forged]))
    assert seen["ocs_received_at"] > 1700000000.5 and seen["headers"] == []


def test_a_throttled_answer_is_delayed_without_blocking_and_the_header_dropped(monkeypatch):
    waits = []

    async def fake_sleep(seconds):
        waits.append(seconds)

    monkeypatch.setattr(asgi.asyncio, "sleep", fake_sleep)

    async def inner(scope, receive, send):
        assert scope["ocs_can_delay"] is True
        headers = [(b"content-type", b"application/json"), (asgi.DELAY_HEADER.lower().encode(), b"0.400")]
        await send({"type": "http.response.start", "status": 401, "headers": headers})
        await send({"type": "http.response.body", "body": b"{}"})

    sent = run(asgi.stamp_receipt_time(inner), http_scope([]))
    assert waits == [0.4]
    assert sent[0]["headers"] == [(b"content-type", b"application/json")]


def test_twisted_does_not_parse_form_bodies():
    from daphne.http_protocol import WebRequest

    asgi.patch_daphne()
    pinned = WebRequest._parsePOSTFormSubmission
    assert pinned.fget(None) is False
    pinned.fset(None, True)  # what Twisted's __init__ does: ignored
    assert pinned.fget(None) is False
