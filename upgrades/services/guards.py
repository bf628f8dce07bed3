"""Who may make the policy changes (labels, maintenance windows): the one role check the services share."""

from __future__ import annotations

from upgrades.audit import Actor
from upgrades.errors import ObshellError
from upgrades.roles import has_role


def role_refusal(actor: Actor, role: str, what: str) -> ObshellError | None:
    """The 403 error refusing `actor` a change (`what`) that needs `role`, or None when it may: a user with the
    role, or the system itself (commands run by whoever holds the server's shell). An API token never may."""
    if actor.user is not None:
        if has_role(actor.user, role):
            return None
    elif actor.token is None:
        return None
    return ObshellError("Common.PermissionDenied", f"Permission denied: {what} needs the {role} role", status=403)
