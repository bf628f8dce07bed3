"""Cluster API tokens: the obshell password of this server. Only an HMAC-SHA256 digest is stored, under
TOKEN_DIGEST_KEY (upgrades.security.keys), so a lookup is one indexed query, a stolen table reveals no token,
and rotating SECRET_KEY breaks none. A token may expire (`expires_at`) and may be read-only (`scope`)."""

import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from upgrades.audit import Actor, audit
from upgrades.errors import bad_request
from upgrades.models import ApiToken, AuditEntry
from upgrades.security.keys import digest, digest_candidates

TOKEN_PREFIX = "ocs_"
PREFIX_SHOWN = 12
# Recording every use would make each request a write; a minute's resolution is what the lists show.
LAST_USED_RESOLUTION = timedelta(seconds=60)
_DIGEST_SALT = "upgrades.security.tokens.ApiToken.digest"


def token_digest(secret):
    return digest(_DIGEST_SALT, secret)


def token_create(*, cluster, label, created_by=None, actor=None, expires_in_days=None, read_only=False):
    """A new token for `cluster`; returns (row, secret). The secret is shown once and never stored.
    `expires_in_days`: the token stops working that many days from now (None: never). `read_only`: GET only."""
    label = (label or "").strip()
    if not label:
        raise bad_request("Common.IllegalArgument", "a token needs a label")
    expires_at = None
    if expires_in_days is not None:
        if isinstance(expires_in_days, bool) or not isinstance(expires_in_days, int | float) or expires_in_days <= 0:
            raise bad_request("Common.IllegalArgument", "a token's expiry is a positive number of days")
        expires_at = timezone.now() + timedelta(days=expires_in_days)
    scope = ApiToken.Scope.READ_ONLY if read_only else ApiToken.Scope.FULL
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            cluster=cluster,
            label=label,
            digest=token_digest(secret),
            prefix=secret[:PREFIX_SHOWN],
            created_by=created_by,
            expires_at=expires_at,
            scope=scope,
        )
        audit(
            actor=actor or Actor.system(),
            action=AuditEntry.Action.TOKEN_CREATE,
            cluster=cluster,
            detail={
                "token_id": token.pk,
                "label": label,
                "prefix": token.prefix,
                "scope": scope,
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
    return token, secret


def token_revoke(*, token, actor=None):
    with transaction.atomic():
        changed = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
        if changed:
            audit(
                actor=actor or Actor.system(),
                action=AuditEntry.Action.TOKEN_REVOKE,
                cluster=token.cluster,
                detail={"token_id": token.pk, "label": token.label, "prefix": token.prefix},
            )
    token.refresh_from_db()
    return bool(changed)


def token_lookup(secret):
    """The unrevoked token with this secret (its cluster joined), or None; whether it has expired is the
    caller's to judge (it answers differently). One query. A token found under an older digest key is
    re-digested under the current one."""
    if not isinstance(secret, str) or not secret:
        return None
    candidates = digest_candidates(_DIGEST_SALT, secret)
    found = ApiToken.objects.select_related("cluster").filter(digest__in=candidates, revoked_at__isnull=True)
    token = next(iter(found.order_by()[:1]), None)
    if token is not None and token.digest != candidates[0]:
        ApiToken.objects.filter(pk=token.pk, digest=token.digest).update(digest=candidates[0])
        token.digest = candidates[0]
    return token


def token_touch(token):
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
