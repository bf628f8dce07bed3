"""Operations endpoints, outside /api/ (not obshell's envelope) and without a session:

- GET /healthz: the process answers (no database).
- GET /readyz: database, migrations, channel layer and media root; 503 naming the failing check.
- GET /metrics: Prometheus text (upgrades.operations.metrics); a bearer METRICS_TOKEN when set.

And the middleware that counts every request by its URL route pattern, status and latency.
"""

from __future__ import annotations

import hmac
import time

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from upgrades.operations import health
from upgrades.operations.metrics import CONTENT_TYPE_LATEST, HTTP_LATENCY, HTTP_REQUESTS, scrape

UNMATCHED_ROUTE = "<unmatched>"


@never_cache
@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request):
    ready, checks = health.readiness()
    return JsonResponse({"status": "ok" if ready else "fail", "checks": checks}, status=200 if ready else 503)


def _bearer_ok(request) -> bool:
    expected = settings.METRICS_TOKEN
    if not expected:
        return True
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode())


@never_cache
@require_GET
def metrics(request):
    if not _bearer_ok(request):
        response = HttpResponse("metrics need a bearer token\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(scrape(), content_type=CONTENT_TYPE_LATEST)


def route_of(request) -> str:
    """The Django URL pattern that served the request (e.g. `runs/<int:dag_id>/`), never the raw path."""
    match = getattr(request, "resolver_match", None)
    if match is None or not match.route:
        return UNMATCHED_ROUTE
    return "/" + match.route.lstrip("^").rstrip("$")


class RequestMetricsMiddleware:
    """Outermost middleware: every HTTP request counted by method, route pattern and status, and timed."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        route = route_of(request)
        method = request.method if request.method in _METHODS else "other"
        HTTP_REQUESTS.labels(method=method, route=route, status=str(response.status_code)).inc()
        HTTP_LATENCY.labels(method=method, route=route).observe(time.perf_counter() - started)
        return response


# Anything else (a made-up verb) is counted as "other", so callers cannot grow the label set.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
