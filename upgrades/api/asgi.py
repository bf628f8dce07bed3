"""ASGI-level pieces of the API, and what daphne needs to serve it faithfully.

* Receipt time (spec 2.2): a header's expiry is judged when the request arrives, before its body is read,
  so a large upload that started in time is not refused for taking long. An ASGI server that calls the
  application as soon as the headers are in (uvicorn) gets the time stamped by `stamp_receipt_time`. daphne
  calls the application only after Twisted has buffered the whole body, so under daphne the time is taken
  by Twisted when the headers are complete and carried in an internal header, which is always overwritten
  (a client cannot set it) and removed before Django sees the request.
* Twisted parses every multipart/form-data POST body itself before daphne passes it on, and answers a body
  it cannot parse with a bare "400 Bad Request" (no JSON, which crashes the SDK). The package upload's body
  is AES-encrypted base64 under a clear multipart Content-Type (spec 2.2): exactly such a body. Twisted's
  own parse would also hold the whole upload in memory. Twisted (>= 24.7) has a per-request switch,
  `parsePOSTFormSubmission`, which daphne never passes; daphne's request class gets it pinned off here.
"""

import time

RECEIVED_HEADER = b"x-ocs-internal-received-at"
_daphne_stamps_receipt = False


def patch_daphne():
    global _daphne_stamps_receipt
    try:
        from daphne.http_protocol import WebRequest
    except ImportError:  # served by another ASGI server
        return
    if getattr(WebRequest, "_ocs_patched", False):
        _daphne_stamps_receipt = True
        return
    # A read-only property, so Twisted's Request.__init__ cannot turn it back on.
    WebRequest._parsePOSTFormSubmission = property(lambda self: False, lambda self, value: None)
    original_got_length = WebRequest.gotLength

    def gotLength(self, length):
        # Called by Twisted once every header is in, before any body byte is read.
        self.requestHeaders.setRawHeaders(RECEIVED_HEADER, [repr(time.time()).encode()])
        return original_got_length(self, length)

    WebRequest.gotLength = gotLength
    WebRequest._ocs_patched = True
    _daphne_stamps_receipt = True


def _received_at(scope):
    stamp = None
    kept = []
    for name, value in scope.get("headers", ()):
        if name.lower() == RECEIVED_HEADER:
            if _daphne_stamps_receipt:
                try:
                    stamp = float(value)
                except ValueError:
                    stamp = None
            continue
        kept.append((name, value))
    return kept, stamp


def stamp_receipt_time(app):
    patch_daphne()

    async def application(scope, receive, send):
        if scope.get("type") == "http":
            now = time.time()
            headers, stamp = _received_at(scope)
            scope = {**scope, "headers": headers, "ocs_received_at": stamp or now}
        await app(scope, receive, send)

    return application
