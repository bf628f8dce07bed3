"""Who is calling an obshell route: an API token (X-OCS-Header v2, or X-OCS-Auth v1) or a browser session.

Order follows obshell's middleware (spec 2.2): decrypt the header, then check the uri, the expiry and the
password. Beyond obshell, a header is accepted once (replay cache), failures are throttled per source
address, and every failure is audited without the secret.
"""

import time
from dataclasses import dataclass

from django.conf import settings
from django.middleware.csrf import CsrfViewMiddleware

from upgrades.audit import Actor, audit, source_address
from upgrades.errors import ObshellError, bad_request, unauthorized
from upgrades.models import AuditEntry, Cluster
from upgrades.roles import has_role
from upgrades.security import replay, throttle
from upgrades.security.crypto import decrypt_header, header_decrypt_failed, split_keys
from upgrades.security.tokens import token_lookup, token_touch

V2_HEADER = "HTTP_X_OCS_HEADER"
AGENT_HEADER = "HTTP_X_OCS_AGENT_HEADER"
V1_HEADER = "HTTP_X_OCS_AUTH"
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass
class ApiCaller:
    """The authenticated caller of one request."""

    actor: Actor
    cluster: Cluster | None  # None: a session user on an un-prefixed route (every cluster is visible)
    token: object = None
    user: object = None
    scheme: str = ""  # "v2", "v1" or "session"
    aes_keys: bytes | None = None  # the body is AES-encrypted with these (v2 only)


def raw_target(request):
    """The request target as sent (path + '?' + raw query), which the v2 header's uri must equal."""
    scope = getattr(request, "scope", None)
    if scope and scope.get("raw_path"):
        path = scope["raw_path"].decode("latin-1")
        query = scope.get("query_string", b"").decode("latin-1")
    else:
        path = request.get_full_path().split("?", 1)[0]
        query = request.META.get("QUERY_STRING", "")
    return f"{path}?{query}" if query else path


def header_not_found():
    return bad_request("Request.Header.NotFound", "X-OCS-Agent-Header or X-OCS-Header not found in http request header")


def incorrect_password():
    return unauthorized(
        "Security.Authentication.IncorrectOceanbasePassword", "Unauthorized: OceanBase password is incorrect"
    )


def _expiry(ts, *, received_at, as_string):
    if as_string and not isinstance(ts, str):
        raise header_decrypt_failed("json: cannot unmarshal number into Go struct field HttpHeader.ts of type string")
    if not as_string and (isinstance(ts, bool) or not isinstance(ts, int)):
        raise unauthorized("Security.Authentication.Timestamp.Invalid", "Unauthorized: invalid timestamp")
    try:
        expires = int(ts)
    except (TypeError, ValueError):
        raise unauthorized("Security.Authentication.Timestamp.Invalid", "Unauthorized: invalid timestamp") from None
    if int(received_at) > expires:
        raise unauthorized("Security.Authentication.Expired", "Unauthorized: auth header has expired")
    # Beyond obshell (no upper bound there): a header valid for longer than this could be kept and replayed
    # for as long, and would keep its replay-cache entry as long.
    ahead = settings.OCS_MAX_HEADER_LIFETIME_SECONDS
    if expires - received_at > ahead:
        raise unauthorized(
            "Security.Authentication.Timestamp.Invalid", f"Unauthorized: timestamp is more than {ahead} s ahead"
        )
    return expires


def _string_field(header, name):
    value = header.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise header_decrypt_failed(f"json: cannot unmarshal into Go struct field HttpHeader.{name} of type string")
    return value


def _token_caller(request, *, password, expires, decrypted, cluster_name, scheme, aes_keys):
    token = token_lookup(password)
    if token is None:
        raise incorrect_password()
    # From here on a refusal names a real token: it is audited per request, not tallied (see authenticate()).
    request.ocs_auth_actor = Actor.for_token(
        token, source_address=source_address(request), trace_id=request.ocs_trace_id
    )
    if cluster_name is not None and token.cluster.name != cluster_name:
        # The password of another cluster is not this cluster's password.
        raise incorrect_password()
    if not replay.first_use(decrypted, expires_at=expires, now=request.ocs_received_at):
        raise unauthorized("Common.Unauthorized", "Unauthorized: this auth header has been used before")
    token_touch(token)
    return ApiCaller(actor=request.ocs_auth_actor, cluster=token.cluster, token=token, scheme=scheme, aes_keys=aes_keys)


def _v2(request, header_value, cluster_name):
    header, decrypted = decrypt_header(header_value)
    uri = _string_field(header, "uri")
    password = _string_field(header, "auth")
    keys = split_keys(header["keys"]) if header.get("keys") not in (None, "") else b""
    ts = header.get("ts", "")
    if uri != raw_target(request):
        raise unauthorized("Security.Authentication.Header.UriMismatch", "Unauthorized: header uri mismatch")
    expires = _expiry(ts, received_at=request.ocs_received_at, as_string=True)
    return _token_caller(
        request,
        password=password,
        expires=expires,
        decrypted=decrypted,
        cluster_name=cluster_name,
        scheme="v2",
        aes_keys=keys,
    )


def _v1(request, header_value, cluster_name):
    """SDK 0.0.9's PasswordAuthMethodV1 (spec 2.3): {"password", "ts": int}, no uri, plain body.

    Off unless OCS_AUTH_V1=1 (4.2.2.0-era clients only): a v1 header names no uri, so a header captured on
    a GET would authorise a POST. What can be bound is: one RSA block exactly, as the SDK sends it; one use,
    keyed on the decrypted content (no other spelling is new); and a lifetime of at most
    OCS_MAX_HEADER_LIFETIME_SECONDS."""
    header, decrypted = decrypt_header(header_value)
    if len(decrypted.blocks) != 1:
        raise header_decrypt_failed("a v1 header is a single RSA block")
    password = _string_field(header, "password")
    expires = _expiry(header.get("ts"), received_at=request.ocs_received_at, as_string=False)
    return _token_caller(
        request,
        password=password,
        expires=expires,
        decrypted=decrypted,
        cluster_name=cluster_name,
        scheme="v1",
        aes_keys=None,
    )


def _session(request, cluster_name):
    user = request.user
    request.ocs_auth_actor = Actor.for_user(user, source_address=source_address(request), trace_id=request.ocs_trace_id)
    role = "viewer" if request.method in SAFE_METHODS else "operator"
    if not has_role(user, role):
        raise unauthorized("Security.User.PermissionDenied", f"Permission denied: the {role} role is required")
    if request.method not in SAFE_METHODS:
        reason = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})
        if reason is not None:
            raise unauthorized("Common.Unauthorized", "Unauthorized: CSRF verification failed")
    cluster = None
    if cluster_name is not None:
        cluster = Cluster.objects.filter(name=cluster_name).first()
        if cluster is None:
            raise ObshellError("Common.NotFound", f"Element not found: cluster {cluster_name}", status=404)
    return ApiCaller(actor=request.ocs_auth_actor, cluster=cluster, user=user, scheme="session")


def _attempt(request, cluster_name):
    v2 = request.META.get(AGENT_HEADER) or request.META.get(V2_HEADER)
    if v2:
        return _v2(request, v2, cluster_name)
    v1 = request.META.get(V1_HEADER) if settings.OCS_AUTH_V1 else None
    if v1:
        return _v1(request, v1, cluster_name)
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return _session(request, cluster_name)
    raise header_not_found()


def authenticate(request, *, cluster_name=None):
    """The caller, or an ObshellError (after auditing the refusal and throttling the address).

    A refusal that names a real token (a replayed header, another cluster's token, an expired or out-of-scope
    token) or a signed-in user is audited per request under that actor: its holder is known and accountable.
    An anonymous one (no header, an undecryptable header, a password that matches no token, on any route) is
    counted in AuthFailureTally per source address and minute; only the first of each minute is audited."""
    if not hasattr(request, "ocs_received_at"):
        request.ocs_received_at = time.time()
        request.ocs_trace_id = ""
    request.ocs_auth_actor = None
    address = source_address(request)
    try:
        return _attempt(request, cluster_name)
    except ObshellError as error:
        # Answered late by the envelope middleware (asynchronously under ASGI, so other requests never wait).
        request.ocs_auth_delay = throttle.record_failure(address)
        _audit_failure(request, error, address=address)
        raise


def _audit_failure(request, error, *, address):
    identified = request.ocs_auth_actor
    detail = {
        "method": request.method,
        "path": request.path[:200],
        "errCode": error.err_code,
        "throttled": request.ocs_auth_delay > 0,
    }

    def write(**extra):
        audit(
            actor=identified
            or Actor(label=f"anonymous {address}", source_address=address, trace_id=request.ocs_trace_id),
            action=AuditEntry.Action.API_AUTH,
            outcome=AuditEntry.Outcome.REFUSED,
            reason=f"{error.err_code}: {error.message}",
            detail=detail | extra,
        )

    if identified is not None:
        write()
    else:
        throttle.tally_failure(
            address=address, err_code=error.err_code, on_first=lambda: write(tally="first failure this minute")
        )
