"""Sending due deliveries: claim one with a conditional UPDATE (PENDING and due, or SENDING with an expired
claim: its sender died mid-request), send it outside any transaction, record the answer.

A failed attempt is retried after NOTIFY_RETRY_SECONDS × 2^(attempt-1) (at most an hour) until
NOTIFY_MAX_ATTEMPTS; then the delivery is FAILED for good and stays shown. A refused target (the SSRF guard) or
a 4xx other than 408/429 is not retried. Delivery is at least once: a sender killed between sending and
recording sends again when its claim expires, with the same `X-OB-Dashboard-Delivery` id."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db.models import Q
from django.utils import timezone

from upgrades.models import Delivery, Subscription
from upgrades.notifications import formats, net
from upgrades.security.keys import FieldDecryptError, field_decrypt

logger = logging.getLogger(__name__)

RESPONSE_KEPT = 4096
MAX_BACKOFF_SECONDS = 3600
RETRYABLE_4XX = {408, 425, 429}


def backoff(attempts: int) -> timedelta:
    """The wait before attempt `attempts + 1` after `attempts` failed ones."""
    seconds = float(settings.NOTIFY_RETRY_SECONDS) * (2 ** max(0, attempts - 1))
    return timedelta(seconds=min(seconds, MAX_BACKOFF_SECONDS))


def claim_seconds() -> float:
    return float(settings.NOTIFY_TIMEOUT_SECONDS) + 30.0


def due(now: datetime | None = None):
    now = now or timezone.now()
    return Delivery.objects.filter(subscription__enabled=True).filter(
        Q(state=Delivery.State.PENDING, next_attempt_at__lte=now)
        | Q(state=Delivery.State.SENDING, lease_expires_at__lt=now)
    )


def claim(delivery_id: int, *, now: datetime | None = None) -> Delivery | None:
    now = now or timezone.now()
    updated = (
        due(now)
        .filter(pk=delivery_id)
        .update(state=Delivery.State.SENDING, lease_expires_at=now + timedelta(seconds=claim_seconds()))
    )
    if updated != 1:
        return None
    return Delivery.objects.select_related("subscription").get(pk=delivery_id)


def deliver_due(*, limit: int = 50, time_budget: float = 30.0) -> int:
    """Send up to `limit` due deliveries, oldest first, here; returns how many were attempted."""
    started = time.monotonic()
    sent = 0
    for delivery_id in list(due().order_by("next_attempt_at", "id").values_list("id", flat=True)[:limit]):
        if time.monotonic() - started > time_budget:
            break
        delivery = claim(delivery_id)
        if delivery is None:
            continue
        attempt(delivery)
        sent += 1
    return sent


def attempt(delivery: Delivery) -> Delivery:
    """One attempt at a claimed delivery; records it and sets what comes next."""
    subscription = delivery.subscription
    began = time.monotonic()
    status: int | None = None
    response = ""
    problem = ""
    final = False
    try:
        target = field_decrypt(subscription.target_encrypted)
        secret = field_decrypt(subscription.secret_encrypted) if subscription.secret_encrypted else ""
        if subscription.format == Subscription.Format.EMAIL:
            _send_email(delivery, target)
        else:
            status, response, problem = _send_webhook(delivery, subscription.format, target, secret)
            final = bool(problem) and 400 <= (status or 0) < 500 and status not in RETRYABLE_4XX
    except net.TargetRefused as exc:
        problem, final = f"refused: {exc}", True
    except net.SendFailed as exc:
        problem = str(exc)
    except FieldDecryptError as exc:
        problem, final = str(exc), True
    except Exception as exc:  # an SMTP error, a malformed body: recorded, retried
        logger.warning("delivery %s: %s", delivery.pk, exc)
        problem = f"{type(exc).__name__}: {exc}"[:500]
    return _record(delivery, status=status, response=response, problem=problem, final=final, began=began)


def _send_webhook(delivery: Delivery, format: str, target: str, secret: str) -> tuple[int, str, str]:
    request = formats.webhook_request(
        format,
        url=target,
        body=delivery.request_body,
        secret=secret,
        event=delivery.kind,
        delivery_id=str(delivery.uuid),
    )
    delivery.request_headers = {k: v for k, v in request.headers.items()}
    delivery.request_body = request.body.decode()
    answer = net.post(request.url, request.body, request.headers)
    text = answer.body.decode("utf-8", "replace")[:RESPONSE_KEPT]
    if answer.truncated or len(answer.body) > RESPONSE_KEPT:
        text += " …(truncated)"
    if 300 <= answer.status < 400:
        return answer.status, text, f"HTTP {answer.status}: redirect to {answer.location[:200]!r} not followed"
    return answer.status, text, formats.answer_problem(format, answer.status, answer.body)


def _send_email(delivery: Delivery, target: str) -> None:
    recipients = [address.strip() for address in target.split(",") if address.strip()]
    body = delivery.request_body
    subject = delivery.request_headers.get("Subject") or f"[OB Upgrade Dashboard] {delivery.summary}"[:200]
    delivery.request_headers = {"Subject": subject, "To": ", ".join(recipients), "From": settings.DEFAULT_FROM_EMAIL}
    EmailMessage(subject=subject, body=body, to=recipients).send(fail_silently=False)


def _record(delivery: Delivery, *, status, response, problem, final, began) -> Delivery:
    now = timezone.now()
    delivery.attempts += 1
    delivery.response_status = status
    delivery.response_body = response
    delivery.last_error = problem
    entry = {
        "at": now.isoformat(),
        "status": status,
        "error": problem[:300],
        "ms": round((time.monotonic() - began) * 1000),
    }
    delivery.history = [*delivery.history, entry][-50:]
    delivery.lease_expires_at = None
    if not problem:
        delivery.state = Delivery.State.SUCCEEDED
        delivery.finished_at = now
    elif final or delivery.attempts >= max_attempts(delivery):
        delivery.state = Delivery.State.FAILED
        delivery.finished_at = now
    else:
        delivery.state = Delivery.State.PENDING
        delivery.next_attempt_at = now + backoff(delivery.attempts)
    fields = [
        "attempts",
        "response_status",
        "response_body",
        "last_error",
        "history",
        "lease_expires_at",
        "state",
        "finished_at",
        "next_attempt_at",
        "request_headers",
        "request_body",
    ]
    # Only the claim holder records (a claim that expired and was taken over leaves the newer attempt's record).
    Delivery.objects.filter(pk=delivery.pk, state=Delivery.State.SENDING).update(
        **{name: getattr(delivery, name) for name in fields}
    )
    return delivery


def max_attempts(delivery: Delivery) -> int:
    return 1 if delivery.kind == "test" else int(settings.NOTIFY_MAX_ATTEMPTS)
