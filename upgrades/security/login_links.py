"""One-time sign-in links, as Jupyter's token URL: `make run` prints one for the admin on each start of the
embedded profile. A link signs its user in once, within LOGIN_LINK_MINUTES, and only from a loopback address
(the machine the server runs on). Only an HMAC-SHA256 digest of the secret is stored; every use and every
refusal is audited, without the secret."""

import ipaddress
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from upgrades.audit import Actor, audit
from upgrades.models import AuditEntry, LoginLink
from upgrades.security.keys import digest, digest_candidates

_DIGEST_SALT = "upgrades.security.login_links.LoginLink.digest"
PATH = "/login/link/{secret}/"


def link_digest(secret):
    # Under TOKEN_DIGEST_KEY (upgrades.security.keys), like API tokens: a SECRET_KEY rotation breaks no link.
    return digest(_DIGEST_SALT, secret)


def is_loopback(address):
    """127.0.0.0/8 and ::1 (an IPv4-mapped loopback too); anything else, or no address, is not."""
    try:
        ip = ipaddress.ip_address((address or "").strip().strip("[]"))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def login_link_create(*, user, actor=None, minutes=None):
    """A new link for `user`; returns (row, secret). Earlier unused links of the user stop working: only the
    last printed link is valid."""
    secret = secrets.token_urlsafe(32)
    now = timezone.now()
    minutes = settings.LOGIN_LINK_MINUTES if minutes is None else minutes
    with transaction.atomic():
        LoginLink.objects.filter(user=user, used_at__isnull=True, expires_at__gt=now).update(expires_at=now)
        link = LoginLink.objects.create(
            user=user, digest=link_digest(secret), expires_at=now + timedelta(minutes=minutes)
        )
        audit(
            actor=actor or Actor.system(),
            action=AuditEntry.Action.LOGIN_LINK_CREATE,
            detail={"user": user.get_username(), "link": link.pk, "expires_at": link.expires_at.isoformat()},
        )
    return link, secret


@dataclass
class LinkRefused(Exception):
    """Why a link did not sign anyone in: a short code, a title and what to do instead."""

    code: str
    title: str
    message: str
    status: int
    renew: bool = False  # whether a new link is the way on (the page says how)

    def __str__(self):
        return f"{self.code}: {self.title}"


def _refuse(code, title, message, status, *, source_address, link=None):
    audit(
        actor=Actor(label="login link", user=link.user if link else None, source_address=source_address),
        action=AuditEntry.Action.LOGIN_LINK_USE,
        outcome=AuditEntry.Outcome.REFUSED,
        detail={"why": code, **({"link": link.pk, "user": link.user.get_username()} if link else {})},
    )
    return LinkRefused(code, title, message, status, renew=code in ("unknown", "used", "expired"))


def login_link_use(*, secret, source_address):
    """The user the link signs in, consuming it; raises LinkRefused (audited) otherwise. Single use holds
    under concurrency: the link is taken with one conditional UPDATE."""
    if not settings.LOGIN_LINK:
        raise _refuse(
            "disabled",
            gettext_noop("Sign-in links are off"),
            "One-time sign-in links exist only in the embedded profile (make run: SQLite, no REDIS_URL, "
            "EMBEDDED_WORKER=1) with LOGIN_LINK on. Sign in with your password.",
            404,
            source_address=source_address,
        )
    link = (
        LoginLink.objects.select_related("user")
        .filter(digest__in=digest_candidates(_DIGEST_SALT, secret or ""))
        .first()
    )
    if not is_loopback(source_address):
        raise _refuse(
            "not_loopback",
            gettext_noop("This link works only on the server's own machine"),
            f"A sign-in link is accepted from this machine's loopback address (127.0.0.1 or ::1) only; this "
            f"request came from {source_address or 'an unknown address'}. Open the link in a browser on the "
            f"machine that runs the server, or sign in with a password.",
            403,
            source_address=source_address,
            link=link,
        )
    if link is None:
        raise _refuse(
            "unknown",
            gettext_noop("This sign-in link is not valid"),
            "The link is unknown: it may be mistyped or cut short.",
            404,
            source_address=source_address,
        )
    now = timezone.now()
    if link.used_at is not None:
        raise _refuse(
            "used",
            gettext_noop("This sign-in link has already been used"),
            f"It signed {link.user.get_username()} in at {timezone.localtime(link.used_at):%H:%M:%S}; a link "
            "works once.",
            410,
            source_address=source_address,
            link=link,
        )
    if link.expires_at <= now or not link.user.is_active:
        raise _refuse(
            "expired",
            gettext_noop("This sign-in link has expired"),
            f"Links work for {settings.LOGIN_LINK_MINUTES} minutes, and a newer link replaces an older one; this "
            f"one ended at {timezone.localtime(link.expires_at):%H:%M:%S}.",
            410,
            source_address=source_address,
            link=link,
        )
    with transaction.atomic():
        taken = LoginLink.objects.filter(pk=link.pk, used_at__isnull=True, expires_at__gt=now).update(
            used_at=now, used_from=source_address
        )
        if taken:
            audit(
                actor=Actor.for_user(link.user, source_address=source_address),
                action=AuditEntry.Action.LOGIN_LINK_USE,
                detail={"link": link.pk, "user": link.user.get_username()},
            )
    if not taken:  # another request took it between the read and the update
        link.refresh_from_db()
        return login_link_use(secret=secret, source_address=source_address)
    return link.user
