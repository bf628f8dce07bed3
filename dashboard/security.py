"""Browser-side hardening glue: the login lockout (django-axes) and the Content-Security-Policy header."""

from axes.backends import AxesStandaloneBackend
from csp.middleware import CSPMiddleware
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import DisallowedHost
from django.template.response import TemplateResponse


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' check for logins made by a request (the sign-in form). An authentication without a request
    (a management command, a shell, Django's test client) has no address to count and is not throttled; axes'
    own backend raises there instead."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def lockout_response(request, original_response=None, credentials=None):
    """The sign-in page again, saying why, with 429 (the page, not axes' plain text)."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    form = AuthenticationForm(request)
    context = {"form": form, "locked_out": True, "lockout_minutes": minutes, "next": request.POST.get("next", "")}
    response = TemplateResponse(request, "registration/login.html", context, status=429)
    return response.render()


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with the live sockets of the request's own host in connect-src ('self' covers
    them in current browsers; older ones need them spelled out). The host is one ALLOWED_HOSTS accepted."""

    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only)
        if report_only:
            return parts
        try:
            host = request.get_host()
        except DisallowedHost:  # a disallowed host: the response is an error page, 'self' is enough
            return parts
        update = dict(parts.update or {})
        update["connect-src"] = [*update.get("connect-src", []), f"ws://{host}", f"wss://{host}"]
        parts.update = update
        return parts
