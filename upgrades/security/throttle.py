"""Slowing down password guessing: failures are counted per source address, and past a limit each further
failure is answered late. Successful authentications are never counted or delayed, so a client with a valid
token is unaffected even while its address is being throttled."""

import threading
import time

from django.conf import settings

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
