"""Replay cache (beyond obshell, which has none): an accepted auth header may be used once within its
lifetime. Shared by every web process: Redis (one atomic script) when REDIS_URL is set, else the SeenHeader
table with a unique digest.

What is recorded (issue 9, "Headers cannot be replayed in another spelling"):
* the digest of the header's decrypted content, not of the base64 text, so no other spelling or cipher
  text of the same header is new (base64 must also be canonical, see crypto.canonical_b64decode);
* the digest of each RSA block it came in, so a header spliced from blocks of headers already accepted is
  a replay even though its decrypted content is new.
A header is refused when any of these was recorded before. Entries live as long as the header is valid:
until the end of its `ts` second (it is refused only once now > ts), which OCS_MAX_HEADER_LIFETIME_SECONDS
keeps near.
"""

import hashlib
import math
import threading
import time
from datetime import UTC, datetime

from django.conf import settings
from django.db import IntegrityError, transaction

from upgrades.models import SeenHeader

PURGE_EVERY_SECONDS = 60

_purge_lock = threading.Lock()
_last_purge = 0.0
_redis_client = None
_redis_script = None

# All keys are new, or nothing is written (Redis runs a script atomically).
_FIRST_USE_SCRIPT = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then return 0 end
end
for _, key in ipairs(KEYS) do
  redis.call('SET', key, '1', 'EX', ARGV[1])
end
return 1
"""


def _digest(kind, data):
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogateescape")
    return hashlib.sha256(kind + b"\0" + data).hexdigest()


def header_digests(decrypted):
    """The cache keys of a header: its decrypted content, then each of its RSA blocks. `decrypted` is a
    crypto.DecryptedHeader, or the content alone (bytes or str)."""
    plaintext = getattr(decrypted, "plaintext", decrypted)
    blocks = getattr(decrypted, "blocks", ())
    return [_digest(b"content", plaintext), *(_digest(b"block", block) for block in blocks)]


def _redis():
    """The shared Redis client (the throttle uses it too)."""
    global _redis_client
    if _redis_client is None:
        import redis

        _redis_client = redis.Redis.from_url(settings.REDIS_URL)
    return _redis_client


def _first_use_script():
    global _redis_script
    if _redis_script is None:
        _redis_script = _redis().register_script(_FIRST_USE_SCRIPT)
    return _redis_script


def _purge_expired(now):
    global _last_purge
    with _purge_lock:
        if now - _last_purge < PURGE_EVERY_SECONDS:
            return
        _last_purge = now
    SeenHeader.objects.filter(expires_at__lt=datetime.fromtimestamp(now, tz=UTC)).delete()


def first_use(decrypted, *, expires_at, now=None):
    """Record the header until it expires; False if it (or one of its blocks) was seen before: a replay."""
    now = now or time.time()
    digests = header_digests(decrypted)
    keep_until = max(expires_at + 1, now)  # a header is valid through its ts second
    if getattr(settings, "REDIS_URL", ""):
        ttl = max(1, math.ceil(keep_until - now))
        return bool(_first_use_script()(keys=[f"ocs:seen-header:{d}" for d in digests], args=[ttl]))
    _purge_expired(now)
    until = datetime.fromtimestamp(keep_until, tz=UTC)
    try:
        with transaction.atomic():
            SeenHeader.objects.bulk_create([SeenHeader(digest=d, expires_at=until) for d in digests])
    except IntegrityError:
        return False
    return True
