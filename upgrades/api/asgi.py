"""ASGI-level pieces of the API, and what daphne needs to serve it faithfully.

* Receipt time (spec 2.2): a header's expiry is judged when the request arrives, before its body is read,
  so a large upload that started in time is not refused for taking long. An ASGI server that calls the
  application as soon as the headers are in (uvicorn) gets the time stamped by `stamp_receipt_time`. daphne
  calls the application only after Twisted has buffered the whole body, so under daphne the time is taken
  by Twisted when the headers are complete and carried in an internal header, which is always overwritten,
  carries a per-process nonce (so a client cannot forge it, whatever server runs the application) and is
  removed before Django sees the request.
* Twisted parses every multipart/form-data POST body itself before daphne passes it on, and answers a body
  it cannot parse with a bare "400 Bad Request" (no JSON, which crashes the SDK). The package upload's body
  is AES-encrypted base64 under a clear multipart Content-Type (spec 2.2): exactly such a body. Twisted's
  own parse would also hold the whole upload in memory. Twisted (>= 24.7) has a per-request switch,
  `parsePOSTFormSubmission`, which daphne never passes; daphne's request class gets it pinned off here.
* Package uploads (the API route and the packages page) whose declared Content-Length exceeds the wire
  allowance of PACKAGE_MAX_BYTES are answered here, before Django reads (and spools to disk) any of the
  body; a body without a length stops being read at the allowance. (daphne buffers a body before calling
  the application, so under daphne this only saves Django's copy; the views' own limits still apply.)
"""

import asyncio
import re
import secrets
import time
from types import SimpleNamespace

# Set by the envelope middleware on a throttled authentication failure; this wrapper waits that long before
# sending the response, then drops the header.
DELAY_HEADER = "X-OCS-Internal-Delay"
_DELAY_HEADER_BYTES = DELAY_HEADER.lower().encode()
RECEIVED_HEADER = b"x-ocs-internal-received-at"
_NONCE = secrets.token_hex(16).encode()


def patch_daphne():
    try:
        from daphne.http_protocol import WebRequest
    except ImportError:  # served by another ASGI server
        return
    if getattr(WebRequest, "_ocs_patched", False):
        return
    # A read-only property, so Twisted's Request.__init__ cannot turn it back on.
    WebRequest._parsePOSTFormSubmission = property(lambda self: False, lambda self, value: None)
    original_got_length = WebRequest.gotLength

    def gotLength(self, length):
        # Called by Twisted once every header is in, before any body byte is read.
        self.requestHeaders.setRawHeaders(RECEIVED_HEADER, [_NONCE + b" " + repr(time.time()).encode()])
        return original_got_length(self, length)

    WebRequest.gotLength = gotLength
    WebRequest._ocs_patched = True


def _received_at(scope):
    stamp = None
    kept = []
    for name, value in scope.get("headers", ()):
        if name.lower() == RECEIVED_HEADER:
            nonce, _, seconds = value.partition(b" ")
            if secrets.compare_digest(nonce, _NONCE):
                try:
                    stamp = float(seconds)
                except ValueError:
                    stamp = None
            continue
        kept.append((name, value))
    return kept, stamp


def _delaying(send):
    async def delayed_send(message):
        if message.get("type") == "http.response.start":
            delay = 0.0
            headers = []
            for name, value in message.get("headers", ()):
                if name.lower() == _DELAY_HEADER_BYTES:
                    delay = float(value)
                    continue
                headers.append((name, value))
            if delay:
                message = {**message, "headers": headers}
                await asyncio.sleep(delay)
        await send(message)

    return delayed_send


UPLOAD_API_RE = re.compile(r"^(?:/clusters/[-a-zA-Z0-9_]+)?/api/v1/upgrade/package$")
UPLOAD_PAGE_PATH = "/packages/upload/"


def _upload_allowance(scope):
    """(allowance, is_api) for a package upload request, else None."""
    from upgrades.packages import limits

    if scope.get("method") != "POST":
        return None
    path = scope.get("path", "")
    if UPLOAD_API_RE.match(path):
        return limits.wire_allowance(encrypted=True), True  # the larger of v2's and a plain body's
    if path == UPLOAD_PAGE_PATH:
        return limits.wire_allowance(encrypted=False), False
    return None


def _declared_length(scope):
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse_too_large(send, is_api):
    from upgrades.api import envelope
    from upgrades.packages import limits

    error = limits.too_large()
    if is_api:
        response = envelope.fail(SimpleNamespace(ocs_trace_id=secrets.token_hex(8)), error)
        body, content_type = response.content, b"application/json"
    else:
        body, content_type = error.message.encode(), b"text/plain; charset=utf-8"
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _capped(receive, limit):
    """Stops passing a body on past `limit` bytes: the application sees the client go away."""
    total = 0

    async def capped_receive():
        nonlocal total
        message = await receive()
        if message.get("type") == "http.request":
            total += len(message.get("body", b""))
            if total > limit:
                return {"type": "http.disconnect"}
        return message

    return capped_receive


def stamp_receipt_time(app):
    """The HTTP application wrapper: receipt time in the scope, and late answers for throttled failures."""
    patch_daphne()

    async def application(scope, receive, send):
        if scope.get("type") == "http":
            now = time.time()
            headers, stamp = _received_at(scope)
            scope = {**scope, "headers": headers, "ocs_received_at": stamp or now, "ocs_can_delay": True}
            send = _delaying(send)
            upload = _upload_allowance(scope)
            if upload is not None:
                allowance, is_api = upload
                declared = _declared_length(scope)
                if declared is not None and declared > allowance:
                    await _refuse_too_large(send, is_api)
                    return
                receive = _capped(receive, allowance)
        await app(scope, receive, send)

    return application
