"""ASGI-level pieces of the API.

* `stamp_receipt_time` records when a request arrived, before Django reads its body (spec 2.2: a header's
  expiry is judged at receipt, so a large upload that started in time is not refused for taking long).
* Under daphne, Twisted parses every multipart/form-data POST body itself before the application sees it,
  and answers a body it cannot parse with a bare "400 Bad Request" (no JSON, which crashes the SDK). The
  package upload's body is AES-encrypted base64 under a clear multipart Content-Type (spec 2.2), which is
  exactly such a body; Twisted's own parse would also hold the whole upload in memory. Twisted (>= 24.7)
  has a per-request switch, `parsePOSTFormSubmission`, that daphne never passes; daphne's request class
  gets it pinned off here (a read-only property, so Twisted's __init__ cannot turn it back on).
"""

import time


def disable_twisted_form_parsing():
    try:
        from daphne.http_protocol import WebRequest
    except ImportError:  # served by another ASGI server
        return
    WebRequest._parsePOSTFormSubmission = property(lambda self: False, lambda self, value: None)


def stamp_receipt_time(app):
    disable_twisted_form_parsing()

    async def application(scope, receive, send):
        if scope.get("type") == "http":
            scope = {**scope, "ocs_received_at": time.time()}
        await app(scope, receive, send)

    return application
