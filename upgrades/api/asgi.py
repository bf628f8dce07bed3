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
* The body door: a request whose declared Content-Length exceeds what its route accepts is answered here,
  before Django reads (and spools to disk) any of the body; a body without a length stops being read at
  the same bound. Package uploads (the API route and the packages page) may carry the wire allowance of
  PACKAGE_MAX_BYTES (400 OB.Package.TooLarge); every other request at most DATA_UPLOAD_MAX_MEMORY_SIZE
  (the API: 400 Common.BindJsonFailed "request body too large", as read_small_body answers; the pages: 413).
  daphne's own request class is also told the bound, so Twisted refuses such a request as soon as its
  headers are in, before it buffers the body (daphne buffers a whole body before calling the
  application). The views' own limits still apply.
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
    original_chunk = WebRequest.handleContentChunk
    original_process = WebRequest.process

    def gotLength(self, length):
        # Called by Twisted once every header is in, before any body byte is read.
        self.requestHeaders.setRawHeaders(RECEIVED_HEADER, [_NONCE + b" " + repr(time.time()).encode()])
        self._ocs_door = _twisted_door(self.channel)
        self._ocs_refused = False
        self._ocs_body_bytes = 0
        if self._ocs_door is not None and length is not None and length > self._ocs_door.allowance:
            _twisted_refuse(self)
            return original_got_length(self, 0)  # nothing of the body will be kept
        return original_got_length(self, length)

    def handleContentChunk(self, data):
        if getattr(self, "_ocs_refused", False):
            return None
        door = getattr(self, "_ocs_door", None)
        self._ocs_body_bytes = getattr(self, "_ocs_body_bytes", 0) + len(data)
        if door is not None and self._ocs_body_bytes > door.allowance:  # a body without a (true) length
            _twisted_refuse(self)
            return None
        return original_chunk(self, data)

    def process(self):
        if getattr(self, "_ocs_refused", False):
            return None
        return original_process(self)

    WebRequest.gotLength = gotLength
    WebRequest.handleContentChunk = handleContentChunk
    WebRequest.process = process
    WebRequest._ocs_patched = True


def _twisted_door(channel):
    try:
        method = channel._command.decode("latin-1").upper()
        path = channel._path.decode("latin-1").split("?", 1)[0]
    except (AttributeError, UnicodeError):
        return None
    return body_door(method, path)


def _twisted_refuse(request):
    """Answer a Twisted request whose body is over its door now, and close the connection: the rest of the
    body is never read into memory or a temporary file."""
    request._ocs_refused = True
    try:
        accept_language = (request.getHeader(b"accept-language") or b"").decode("latin-1")
    except (AttributeError, UnicodeError):
        accept_language = ""
    status, content_type, body = refusal(request._ocs_door, accept_language=accept_language)
    reason = {400: b"Bad Request", 413: b"Content Too Large"}.get(status, b"Error")
    head = b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % (
        status,
        reason,
        content_type,
        len(body),
    )
    request.channel.transport.write(head + body)
    request.channel.loseConnection()


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
# POST /api/v1/package: the same upload with a body that is never encrypted.
PLAIN_UPLOAD_API_RE = re.compile(r"^(?:/clusters/[-a-zA-Z0-9_]+)?/api/v1/package$")
UPLOAD_PAGE_PATH = "/packages/upload/"
API_RE = re.compile(r"^(?:/clusters/[^/]+)?/api/")


class Door:
    """What a route accepts as a body: `allowance` bytes; `upload`: a package upload; `api`: an obshell route."""

    def __init__(self, allowance, *, upload, api):
        self.allowance = allowance
        self.upload = upload
        self.api = api


def body_door(method, path):
    """The body bound of a request (every method: a GET with a body is bounded too)."""
    from django.conf import settings

    from upgrades.packages import limits

    if method == "POST" and UPLOAD_API_RE.match(path):
        return Door(limits.wire_allowance(encrypted=True), upload=True, api=True)  # the larger of v2's and plain
    if method == "POST" and PLAIN_UPLOAD_API_RE.match(path):
        return Door(limits.wire_allowance(encrypted=False), upload=True, api=True)
    if method == "POST" and path == UPLOAD_PAGE_PATH:
        return Door(limits.wire_allowance(encrypted=False), upload=True, api=False)
    return Door(settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440, upload=False, api=bool(API_RE.match(path)))


def _declared_length(scope):
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def refusal(door, *, accept_language=""):
    """(status, content type, body) of the answer to a body over `door`'s allowance (an API answer's message in
    the request's Accept-Language, as every API error)."""
    from upgrades.api import envelope
    from upgrades.api.body import too_large as json_too_large
    from upgrades.api.i18n import api_language
    from upgrades.packages import limits

    error = limits.too_large() if door.upload else json_too_large()
    if door.api:
        language = api_language({"HTTP_ACCEPT_LANGUAGE": accept_language})
        request = SimpleNamespace(ocs_trace_id=secrets.token_hex(8), ocs_language=language)
        response = envelope.fail(request, error)
        return error.status, b"application/json", response.content
    if door.upload:
        return error.status, b"text/plain; charset=utf-8", error.message.encode()
    message = f"Request body too large: at most {door.allowance} bytes (DATA_UPLOAD_MAX_MEMORY_SIZE)."
    return 413, b"text/plain; charset=utf-8", message.encode()


async def _refuse_too_large(send, door, accept_language=""):
    status, content_type, body = refusal(door, accept_language=accept_language)
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()), (b"connection", b"close")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
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
            door = body_door(scope.get("method", ""), scope.get("path", ""))
            declared = _declared_length(scope)
            if declared is not None and declared > door.allowance:
                accept_language = next(
                    (value.decode("latin-1") for name, value in headers if name.lower() == b"accept-language"), ""
                )
                await _refuse_too_large(send, door, accept_language)
                return
            receive = _capped(receive, door.allowance)
        await app(scope, receive, send)

    return application
