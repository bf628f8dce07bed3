"""obshell's response envelope (spec 1.1): successful, timestamp, duration, status, traceId, data, error.

Views build responses with `ok()` / `fail()`; the middleware turns anything else an /api/ path produces
(Django's 404 page, a redirect, an unhandled exception) into the same envelope.
"""

import json
import re
import secrets
import time

from django.http import HttpResponse

from upgrades.api.gotime import go_now
from upgrades.api.i18n import api_language, localize
from upgrades.errors import not_found, server_error
from upgrades.operations import logs

NO_DATA = object()
TRACE_HEADER = "HTTP_X_OBSHELL_TRACE_ID"
# A client's trace id is echoed and stored (AuditEntry.trace_id is 64 characters): anything else is replaced
# by a generated one, so an odd header can neither break the audit insert nor smuggle text into it.
TRACE_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
# /api/... and the per-cluster mirror /clusters/<name>/api/... (any <name>: a malformed one is still enveloped)
API_PATH_RE = re.compile(r"^(?:/clusters/(?P<cluster>[^/]+))?/api/")
# The OpenAPI document is served as a plain document, not wrapped: tools read it as OpenAPI.
PLAIN_PATHS = frozenset({"/api/schema"})

# obshell builds its crash answer once at start, so its timestamp is the process start time (spec 1.1).
PROCESS_STARTED = go_now()
NOT_FOUND = not_found("Common.NotFound", "Element not found: 404 not found")
UNEXPECTED = server_error("Common.Unexpected", "Unexpected error: Internal Server Error")


def is_api_path(path):
    return bool(API_PATH_RE.match(path)) and path not in PLAIN_PATHS


def begin(request):
    """Stamp a request entering the API: start clock, receipt time and trace id."""
    request.ocs_started = time.perf_counter()
    scope = getattr(request, "scope", None) or {}
    request.ocs_received_at = scope.get("ocs_received_at") or time.time()
    request.ocs_trace_id = trace_id(request.META)
    request.ocs_language = api_language(request.META)


def new_trace_id():
    return secrets.token_hex(8)


def trace_id(meta):
    """The request's X-OBSHELL-Trace-ID when it matches ^[A-Za-z0-9._-]{1,64}$, else a generated one."""
    trace = meta.get(TRACE_HEADER, "")
    if isinstance(trace, str) and TRACE_ID_RE.fullmatch(trace):
        return trace
    # The one the request's log lines already carry (upgrades.operations.logs), so logs and traceId agree.
    return logs.current_trace_id() or new_trace_id()


def contents(items):
    """Go slices are wrapped; `None` stands for a nil slice, which obshell sends as `"contents": null`."""
    return {"contents": items if items is None else list(items)}


def _render(request, status, *, data=NO_DATA, error=None, trace=True, duration=True, timestamp=None):
    started = getattr(request, "ocs_started", None)
    elapsed = int((time.perf_counter() - started) * 1000) if (started is not None and duration) else 0
    body = {
        "successful": error is None,
        "timestamp": timestamp or go_now(),
        "duration": elapsed,
        "status": status,
        "traceId": getattr(request, "ocs_trace_id", "") if trace else "",
    }
    if data is not NO_DATA:
        body["data"] = data
    if error is not None:
        language = getattr(request, "ocs_language", None)
        if language is not None:
            error = {**error, "message": localize(error["errCode"], error["message"], language)}
        body["error"] = error
    response = HttpResponse(
        json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        status=status,
        content_type="application/json",
    )
    response.ocs_envelope = True
    return response


def ok(request, data=NO_DATA, *, trace=True):
    return _render(request, 200, data=data, trace=trace)


def fail(request, exc, *, data=NO_DATA):
    return _render(request, exc.status, data=data, error=exc.as_dict())


def unexpected(request):
    """A crash: obshell's recovery answer has an empty traceId and a zero duration (spec 1.1)."""
    return _render(request, 500, error=UNEXPECTED.as_dict(), trace=False, duration=False, timestamp=PROCESS_STARTED)
