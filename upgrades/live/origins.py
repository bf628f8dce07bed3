"""The websocket origin check: a socket is accepted only from a page of this very site, compared on scheme,
host and port (channels' AllowedHostsOriginValidator compares the host only, so a page on http://host:8080 or
plain http could open the https site's sockets with the user's cookie).

Accepted origins:
- the request's own origin: the scheme of the connection (wss -> https, ws -> http; X-Forwarded-Proto only
  when settings.SECURE_PROXY_SSL_HEADER names it, i.e. the proxy is trusted, as for Django's request.scheme),
  the Host header's host (which must be in ALLOWED_HOSTS) and its port (the scheme's default when absent);
- any of CSRF_TRUSTED_ORIGINS ("https://dash.example.com", "https://*.example.com"), with the same scheme,
  host (or subdomain, for a "*." entry) and port.
A missing or "null" Origin is refused. Refused sockets are denied at the handshake (HTTP 403).
"""

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


def _headers(scope):
    headers = {}
    for name, value in scope.get("headers", ()):
        headers.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return headers


def _origin(value):
    """(scheme, host, port) of an origin or URL, lower-cased, with the default port filled in; None if bad."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or DEFAULT_PORTS[scheme]


def request_scheme(scope, headers):
    """http or https: how the browser reached this site."""
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        name, secure_value = proxy
        header = name.removeprefix("HTTP_").replace("_", "-").lower()
        forwarded = headers.get(header)
        if forwarded is not None:
            return "https" if forwarded.split(",", 1)[0].strip() == secure_value else "http"
    return "https" if scope.get("scheme") in ("wss", "https") else "http"


def own_origin(scope):
    """(scheme, host, port) the request itself was made to, or None (no Host, or a host not allowed)."""
    headers = _headers(scope)
    host = headers.get("host")
    if not host and scope.get("server"):
        server_host, server_port = scope["server"][0], scope["server"][1]
        host = f"{server_host}:{server_port}" if server_port else server_host
    if not host:
        return None
    domain, _ = split_domain_port(host)
    allowed = settings.ALLOWED_HOSTS or (["localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else [])
    if not domain or not validate_host(domain, allowed):
        return None
    return _origin(f"{request_scheme(scope, headers)}://{host}")


def _trusted(origin):
    scheme, host, port = origin
    for entry in getattr(settings, "CSRF_TRUSTED_ORIGINS", ()):
        wildcard = "://*." in entry
        trusted = _origin(entry.replace("://*.", "://", 1) if wildcard else entry)
        if trusted is None or trusted[0] != scheme or trusted[2] != port:
            continue
        if host == trusted[1] or (wildcard and host.endswith("." + trusted[1])):
            return True
    return False


def origin_allowed(scope):
    value = _headers(scope).get("origin")
    if not value or value == "null":
        return False
    origin = _origin(value)
    if origin is None:
        return False
    return origin == own_origin(scope) or _trusted(origin)


class SameOriginValidator:
    """ASGI middleware for websockets: refuses a handshake whose Origin is not this site (see the module)."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier.as_asgi()(scope, receive, send)
        return await self.application(scope, receive, send)
