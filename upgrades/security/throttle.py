"""Slowing down password guessing: failures are counted per source address, and past a limit each further
failure is answered late. Successful authentications are never counted or delayed, so a client with a valid
token is unaffected even while its address is being throttled.

Anonymous failures are also tallied in the database per source address and minute (AuthFailureTally): the
first failure of a minute creates the row (and, in the same transaction, its one audit entry), later ones only
increment it, so a flood of guesses cannot flood the audit log."""

import threading
import time
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from upgrades.models import AuthFailureTally

WINDOW_SECONDS = 60
FREE_FAILURES = 10
MAX_DELAY = 2.0

_lock = threading.Lock()
_failures = {}  # address -> (window start, count): per process when there is no Redis


def _limits():
    return (
        getattr(settings, "API_AUTH_FAILURE_WINDOW", WINDOW_SECONDS),
        getattr(settings, "API_AUTH_FREE_FAILURES", FREE_FAILURES),
        getattr(settings, "API_AUTH_MAX_DELAY", MAX_DELAY),
    )


def _count_redis(address, window):
    from upgrades.security.replay import _redis

    key = f"ocs:auth-failures:{address}"
    client = _redis()
    count = int(client.incr(key))
    if count == 1:
        client.expire(key, window)
    return count


def _count_local(address, window, now):
    with _lock:
        start, count = _failures.get(address, (now, 0))
        if now - start >= window:
            start, count = now, 0
        count += 1
        _failures[address] = (start, count)
        if len(_failures) > 10000:
            for key in [k for k, (s, _) in _failures.items() if now - s >= window]:
                del _failures[key]
        return count


def record_failure(address):
    """Count one failure; returns the delay (seconds) to impose before answering it."""
    window, free, max_delay = _limits()
    if getattr(settings, "REDIS_URL", ""):
        count = _count_redis(address, window)
    else:
        count = _count_local(address, window, time.monotonic())
    if count <= free:
        return 0.0
    return min(max_delay, 0.05 * 2 ** min(count - free, 16))


def reset():
    """Forget every count (tests, and an operator clearing a lock-out)."""
    with _lock:
        _failures.clear()
    if getattr(settings, "REDIS_URL", ""):
        from upgrades.security.replay import _redis

        client = _redis()
        for key in client.scan_iter("ocs:auth-failures:*"):
            client.delete(key)


def tally_failure(*, address: str, err_code: str, on_first: Callable[[], object], now: datetime | None = None) -> int:
    """Count one anonymous failure from `address` in the current minute; returns the minute's count so far.

    The first failure of a minute creates the row and calls `on_first()` in the same transaction (it writes
    the minute's audit entry); every later one is a single UPDATE ... SET count = count + 1, so concurrent
    failures (several processes, PostgreSQL or SQLite) never lose a count or create a second row."""
    now = now or timezone.now()
    minute = now.replace(second=0, microsecond=0)
    address = address[:64]
    err_code = err_code[:100]
    rows = AuthFailureTally.objects.filter(source_address=address, minute=minute)
    if rows.update(count=F("count") + 1, last_err_code=err_code, last_at=now):
        return rows.values_list("count", flat=True).first() or 1
    try:
        with transaction.atomic():
            AuthFailureTally.objects.create(
                source_address=address, minute=minute, count=1, last_err_code=err_code, last_at=now
            )
            on_first()
        return 1
    except IntegrityError:
        # Another request created this minute's row between the UPDATE and the INSERT: count on it.
        rows.update(count=F("count") + 1, last_err_code=err_code, last_at=now)
        return rows.values_list("count", flat=True).first() or 1


def recent_tallies(limit: int = 20) -> list[AuthFailureTally]:
    """The latest per-minute tallies, newest first (the audit page's "auth failures" table)."""
    return list(AuthFailureTally.objects.order_by("-minute", "-count")[:limit])
