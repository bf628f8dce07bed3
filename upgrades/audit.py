"""Writing audit entries. Callers pass an Actor; secrets never go into an entry."""

from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from upgrades.errors import ObshellError, bad_request
from upgrades.models import ApiToken, AuditEntry

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@dataclass(frozen=True)
class Actor:
    """Who acts: a browser user, an API token, or the system itself (commands, the engine)."""

    label: str
    user: "User | None" = None
    token: "ApiToken | None" = None
    source_address: str = ""
    trace_id: str = ""

    @classmethod
    def system(cls, label="system"):
        return cls(label=label)

    @classmethod
    def for_user(cls, user, *, source_address="", trace_id=""):
        return cls(label=f"user {user.get_username()}", user=user, source_address=source_address, trace_id=trace_id)

    @classmethod
    def for_token(cls, token, *, source_address="", trace_id=""):
        return cls(label=f"token {token.label}", token=token, source_address=source_address, trace_id=trace_id)


# The longest reason a person can give (for an upgrade, an operator, a fault): one limit for the pages' forms,
# the API's binding and the services, so no entry point stores more than another.
REASON_MAX_LENGTH = 2000


def reason_checked(reason: str | None) -> str:
    """`reason` (None: ""), or 400 Common.IllegalArgument when it is longer than REASON_MAX_LENGTH."""
    reason = reason or ""
    if len(reason) > REASON_MAX_LENGTH:
        raise bad_request("Common.IllegalArgument", f"reason is longer than {REASON_MAX_LENGTH} characters")
    return reason


def source_address(request):
    """The address an audit entry records for a request's actor."""
    return request.META.get("REMOTE_ADDR", "") or ""


def storable(value):
    """`value` with every NUL character written as the four characters \\x00: PostgreSQL stores no NUL in
    text or jsonb, and a request path, header or body can carry one into an entry's reason or detail."""
    if isinstance(value, str):
        return value.replace("\x00", "\\x00")
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable(item) for item in value]
    return value


def audit(*, actor, action, cluster=None, dag=None, outcome=AuditEntry.Outcome.OK, reason="", detail=None):
    return AuditEntry.objects.create(
        actor_user=actor.user,
        actor_token=actor.token,
        actor_label=storable(actor.label),
        action=action,
        cluster=cluster,
        dag=dag,
        source_address=storable(actor.source_address),
        trace_id=storable(actor.trace_id),
        outcome=outcome,
        reason=storable(reason),
        detail=storable(detail or {}),
    )


@contextmanager
def audit_refusals(*, actor, action, cluster=None, dag=None, reason="", detail=None):
    """Audit an ObshellError that escapes the block as a REFUSED `action`, then let it propagate.

    A `detail` dict gains the error's errCode and message; `reason` and `detail` may instead be functions
    of the error that return the entry's reason and its whole detail.
    """
    try:
        yield
    except ObshellError as error:
        audit(
            actor=actor,
            action=action,
            cluster=cluster,
            dag=dag,
            outcome=AuditEntry.Outcome.REFUSED,
            reason=reason(error) if callable(reason) else reason,
            detail=(
                detail(error)
                if callable(detail)
                else {**(detail or {}), "errCode": error.err_code, "message": error.message}
            ),
        )
        raise
