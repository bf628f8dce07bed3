"""Cluster API tokens: the obshell password of this server. Only an HMAC-SHA256 digest is stored, under a key
derived from SECRET_KEY, so a lookup is one indexed query and a stolen table reveals no token."""

import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from upgrades.audit import Actor, audit
from upgrades.errors import bad_request
from upgrades.models import ApiToken, AuditEntry

TOKEN_PREFIX = "ocs_"
PREFIX_SHOWN = 12
# Recording every use would make each request a write; a minute's resolution is what the lists show.
LAST_USED_RESOLUTION = timedelta(seconds=60)
_DIGEST_SALT = "upgrades.security.tokens.ApiToken.digest"


def token_digest(secret):
    return salted_hmac(_DIGEST_SALT, secret, algorithm="sha256").hexdigest()


def token_create(*, cluster, label, created_by=None, actor=None):
    """A new token for `cluster`; returns (row, secret). The secret is shown once and never stored."""
    label = (label or "").strip()
    if not label:
        raise bad_request("Common.IllegalArgument", "a token needs a label")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ApiToken.objects.create(
            cluster=cluster,
            label=label,
            digest=token_digest(secret),
            prefix=secret[:PREFIX_SHOWN],
            created_by=created_by,
        )
        audit(
            actor=actor or Actor.system(),
            action=AuditEntry.Action.TOKEN_CREATE,
            cluster=cluster,
            detail={"token_id": token.pk, "label": label, "prefix": token.prefix},
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
    """The active token with this secret (its cluster joined), or None. One query."""
    if not isinstance(secret, str) or not secret:
        return None
    found = ApiToken.objects.select_related("cluster").filter(digest=token_digest(secret), revoked_at__isnull=True)
    return next(iter(found.order_by()[:1]), None)


def token_touch(token):
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
