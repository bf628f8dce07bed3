"""Who may hold a live socket: a signed-in user with at least the viewer role, checked when the socket opens
and again at every heartbeat (a sign-out elsewhere, an expired session, a changed password or a removed role
closes it). Refusals are close codes the page understands (static/js/live_socket.js stops reconnecting)."""

from importlib import import_module
from types import SimpleNamespace

from django.conf import settings
from django.contrib import auth

from upgrades.roles import has_role

CLOSE_NOT_SIGNED_IN = 4401  # no session, or it ended: sign in again
CLOSE_NO_ROLE = 4403  # signed in, but without the viewer role
CLOSE_TOO_MANY_MESSAGES = 4429  # the client sent more than LIVE_MAX_MESSAGES_PER_MINUTE


def refusal(user) -> int | None:
    """The close code that refuses `user` a socket, or None when the user may watch."""
    if user is None or not user.is_authenticated:
        return CLOSE_NOT_SIGNED_IN
    if not has_role(user, "viewer"):
        return CLOSE_NO_ROLE
    return None


def session_key(scope) -> str | None:
    session = scope.get("session")
    return getattr(session, "session_key", None) if session is not None else None


def current_refusal(key: str | None) -> int | None:
    """refusal() for the session `key` as it is in the session store now (not as the socket first saw it)."""
    if not key:
        return CLOSE_NOT_SIGNED_IN
    store = import_module(settings.SESSION_ENGINE).SessionStore(key)
    # Django's own lookup: checks the session's auth hash (a password change signs every session out).
    user = auth.get_user(SimpleNamespace(session=store))
    return refusal(user)
