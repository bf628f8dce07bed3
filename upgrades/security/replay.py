"""Replay cache (beyond obshell, which has none): an accepted auth header may be used once within its
lifetime. Shared by every web process: Redis SET NX with expiry when REDIS_URL is set, else the SeenHeader
table with a unique digest."""

import hashlib
import threading
import time
from datetime import UTC, datetime

from django.conf import settings
from django.db import IntegrityError, transaction

from upgrades.models import SeenHeader

PURGE_EVERY_SECONDS = 60
# A header with an absurd expiry still gets a bounded entry in Redis; the table keeps it until its ts.
MAX_REDIS_TTL = 30 * 24 * 3600

_purge_lock = threading.Lock()
_last_purge = 0.0
_redis_client = None


def header_digest(value):
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()


def _redis():
    global _redis_client
    if _redis_client is None:
        import redis

        _redis_client = redis.Redis.from_url(settings.REDIS_URL)
    return _redis_client


def _purge_expired(now):
    global _last_purge
    with _purge_lock:
        if now - _last_purge < PURGE_EVERY_SECONDS:
            return
        _last_purge = now
    SeenHeader.objects.filter(expires_at__lt=datetime.fromtimestamp(now, tz=UTC)).delete()


def first_use(value, *, expires_at, now=None):
    """Record the header; False if it was seen before (a replay)."""
    now = now or time.time()
    digest = header_digest(value)
    if getattr(settings, "REDIS_URL", ""):
        ttl = max(1, min(int(expires_at - now) + 1, MAX_REDIS_TTL))
        return bool(_redis().set(f"ocs:seen-header:{digest}", b"1", nx=True, ex=ttl))
    _purge_expired(now)
    try:
        with transaction.atomic():
            SeenHeader.objects.create(digest=digest, expires_at=datetime.fromtimestamp(max(expires_at, now), tz=UTC))
    except IntegrityError:
        return False
    return True
