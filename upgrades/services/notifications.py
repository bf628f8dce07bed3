"""Managing notification subscriptions (admins, `manage.py add_webhook`): create, change, enable or disable,
delete and send a test, each audited (refusals too) without the target's path, query or secret. The target is
checked against the SSRF guard (upgrades.notifications.net) here and again at every delivery."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from upgrades.audit import Actor, audit, audit_refusals
from upgrades.errors import ObshellError, bad_request
from upgrades.models import AuditEntry, Cluster, Delivery, Subscription
from upgrades.notifications import formats, net, outbox, sender
from upgrades.preferences import message_locale, zone_named
from upgrades.security.keys import field_encrypt

Format = Subscription.Format
ALL_EVENTS = [str(event) for event in Subscription.Event]
MAX_SECRET = 500
MAX_RECIPIENTS = 20

_UNSET: Any = object()


def _refused(message: str) -> ObshellError:
    return bad_request("Notification.Subscription.Invalid", message)


def _checked_name(name: str) -> str:
    name = (name or "").strip()
    if not 1 <= len(name) <= 100:
        raise _refused("a subscription needs a name of 1 to 100 characters")
    return name


def _checked_format(value: str) -> str:
    if value not in Format.values:
        raise _refused(f"unknown format {value!r}: use one of {', '.join(Format.values)}")
    return value


def _checked_target(format: str, target: str) -> tuple[str, str]:
    """(the target as stored, its display form)."""
    target = (target or "").strip()
    if format == Format.EMAIL:
        addresses = [a.strip() for a in target.split(",") if a.strip()]
        if not addresses:
            raise _refused("an email subscription needs at least one address")
        if len(addresses) > MAX_RECIPIENTS:
            raise _refused(f"at most {MAX_RECIPIENTS} addresses")
        for address in addresses:
            try:
                validate_email(address)
            except ValidationError:
                raise _refused(f"{address[:100]!r} is not an email address") from None
        joined = ", ".join(addresses)
        return joined, joined[:300]
    try:
        net.check_url(target)
    except net.TargetRefused as exc:
        raise bad_request("Notification.Target.Refused", f"target refused: {exc}") from None
    return target, net.redacted(target)


def _checked_secret(format: str, secret: str, *, keeping: bool) -> str:
    if len(secret) > MAX_SECRET:
        raise _refused(f"the secret is longer than {MAX_SECRET} characters")
    if secret and format not in formats.FORMATS_WITH_SECRET:
        raise _refused(f"a {format} subscription has no signing secret (its URL or addresses are the credential)")
    if not secret and not keeping and format in formats.SECRET_REQUIRED:
        raise _refused("a generic webhook needs a secret: its requests are signed with it")
    return secret


def _checked_events(events: Iterable[str] | None) -> list[str]:
    chosen = ALL_EVENTS if events is None else [str(e) for e in events]
    unknown = [e for e in chosen if e not in ALL_EVENTS]
    if unknown:
        raise _refused(f"unknown event {unknown[0]!r}: use {', '.join(ALL_EVENTS)}")
    if not chosen:
        raise _refused("choose at least one event")
    return [e for e in ALL_EVENTS if e in chosen]


def _checked_language(value: str) -> str:
    value = (value or "").strip()
    if value and value not in {code for code, _name in settings.LANGUAGES}:
        raise _refused(f"unknown language {value[:20]!r}: use {', '.join(code for code, _n in settings.LANGUAGES)}")
    return value


def _checked_time_zone(value: str) -> str:
    value = (value or "").strip()
    if value and zone_named(value) is None:
        raise _refused(f"unknown time zone {value[:64]!r}: use an IANA name such as Asia/Shanghai")
    return value


def describe(subscription: Subscription) -> dict[str, Any]:
    """What an audit entry records of a subscription: never the URL's path or query, never the secret."""
    return {
        "subscription": subscription.pk,
        "name": subscription.name,
        "format": subscription.format,
        "target": subscription.target_display,
        "clusters": "all" if subscription.all_clusters else sorted(c.name for c in subscription.clusters.all()),
        "events": subscription.events,
        "enabled": subscription.enabled,
        "signed": subscription.has_secret,
        "language": subscription.language,
        "time_zone": subscription.time_zone,
    }


def subscription_create(
    *,
    actor: Actor,
    name: str,
    format: str,
    target: str,
    secret: str = "",
    clusters: Iterable[Cluster] | None = None,
    events: Iterable[str] | None = None,
    enabled: bool = True,
    language: str = "",
    time_zone: str = "",
) -> Subscription:
    """A new subscription; `clusters` None means every cluster (now and later)."""
    refused = {"name": str(name)[:100], "format": str(format)[:16]}
    with audit_refusals(actor=actor, action=AuditEntry.Action.SUBSCRIPTION_CREATE, detail=refused):
        name = _checked_name(name)
        format = _checked_format(format)
        stored_target, display = _checked_target(format, target)
        secret = _checked_secret(format, secret or "", keeping=False)
        chosen = _checked_events(events)
        language = _checked_language(language)
        time_zone = _checked_time_zone(time_zone)
        cluster_list = list(clusters) if clusters is not None else None
        if cluster_list is not None and not cluster_list:
            raise _refused("choose at least one cluster, or all clusters")
        with transaction.atomic():
            subscription = Subscription.objects.create(
                name=name,
                format=format,
                target_encrypted=field_encrypt(stored_target),
                target_display=display,
                secret_encrypted=field_encrypt(secret) if secret else "",
                all_clusters=cluster_list is None,
                events=chosen,
                enabled=enabled,
                language=language,
                time_zone=time_zone,
                created_by=actor.user,
            )
            if cluster_list is not None:
                subscription.clusters.set(cluster_list)
            audit(actor=actor, action=AuditEntry.Action.SUBSCRIPTION_CREATE, detail=describe(subscription))
    return subscription


def subscription_update(
    *,
    subscription: Subscription,
    actor: Actor,
    name: str | None = None,
    target: str | None = None,
    secret: str | None = None,
    clusters: Any = _UNSET,
    events: Iterable[str] | None = None,
    enabled: bool | None = None,
    language: str | None = None,
    time_zone: str | None = None,
) -> Subscription:
    """Change what is given (None leaves a field as it is; an empty target or secret keeps the stored one;
    `clusters` None means every cluster). Enabling again starts from now: events missed meanwhile are not sent."""
    refused = {"subscription": subscription.pk, "name": subscription.name}
    with audit_refusals(actor=actor, action=AuditEntry.Action.SUBSCRIPTION_UPDATE, detail=refused):
        changed: list[str] = []
        with transaction.atomic():
            row = Subscription.objects.select_for_update().get(pk=subscription.pk)
            if name is not None and name.strip() != row.name:
                row.name = _checked_name(name)
                changed.append("name")
            if target:
                stored, row.target_display = _checked_target(row.format, target)
                row.target_encrypted = field_encrypt(stored)
                changed.append("target")
            if secret:
                row.secret_encrypted = field_encrypt(_checked_secret(row.format, secret, keeping=True))
                changed.append("secret")
            if events is not None:
                chosen = _checked_events(events)
                if chosen != row.events:
                    row.events = chosen
                    changed.append("events")
            for field, value, check in (
                ("language", language, _checked_language),
                ("time_zone", time_zone, _checked_time_zone),
            ):
                if value is not None and check(value) != getattr(row, field):
                    setattr(row, field, check(value))
                    changed.append(field)
            if enabled is not None and enabled != row.enabled:
                row.enabled = enabled
                if enabled:
                    row.active_since = timezone.now()
                changed.append("enabled")
            if clusters is not _UNSET:
                cluster_list = list(clusters) if clusters is not None else None
                if cluster_list is not None and not cluster_list:
                    raise _refused("choose at least one cluster, or all clusters")
                before = (row.all_clusters, sorted(c.pk for c in row.clusters.all()))
                row.all_clusters = cluster_list is None
                row.clusters.set(cluster_list or [])
                if before != (row.all_clusters, sorted(c.pk for c in cluster_list or [])):
                    changed.append("clusters")
            row.save()
            audit(
                actor=actor,
                action=AuditEntry.Action.SUBSCRIPTION_UPDATE,
                detail={**describe(row), "changed": changed},
            )
    return row


def subscription_delete(*, subscription: Subscription, actor: Actor) -> dict[str, Any]:
    """Delete the subscription and its deliveries; the audit entry keeps what it was."""
    with transaction.atomic():
        detail = describe(subscription)
        detail["deliveries"] = subscription.deliveries.count()
        subscription.delete()
        audit(actor=actor, action=AuditEntry.Action.SUBSCRIPTION_DELETE, detail=detail)
    return detail


TEST_NOTE_EVENT = "test"


def subscription_send_test(*, subscription: Subscription, actor: Actor) -> Delivery:
    """Send a test message now (one attempt, no retries), kept like every delivery; audited with its outcome."""
    with message_locale(subscription.language, subscription.time_zone):
        summary = gettext("Test message from the OB Upgrade Dashboard (%(name)s)") % {"name": subscription.name}
    note: dict[str, Any] = {
        "event": TEST_NOTE_EVENT,
        "summary": summary,
        "cluster": "",
        "dag": {},
        "url": f"{outbox.run_url(0).rsplit('/runs/', 1)[0]}/notifications/{subscription.pk}/",
        "at": timezone.now().isoformat(),
        "seq": None,
    }
    delivery = outbox.delivery_for(subscription, note, kind=TEST_NOTE_EVENT, event=None, dag_id=None)
    delivery.state = Delivery.State.SENDING
    delivery.lease_expires_at = timezone.now() + timedelta(seconds=sender.claim_seconds())  # claimed by this request
    delivery.save()
    delivery = sender.attempt(delivery)
    ok = delivery.state == Delivery.State.SUCCEEDED
    audit(
        actor=actor,
        action=AuditEntry.Action.SUBSCRIPTION_TEST,
        outcome=AuditEntry.Outcome.OK if ok else AuditEntry.Outcome.FAILED,
        detail={
            **describe(subscription),
            "delivery": delivery.pk,
            "status": delivery.response_status,
            "error": delivery.last_error[:300],
        },
    )
    return delivery
