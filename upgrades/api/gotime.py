"""Times as obshell's Go encoder writes them: RFC 3339 with nanoseconds, trailing zeros dropped, server-local
zone, a zero offset written `Z` (spec 1.1)."""

import time
from datetime import UTC, datetime

from django.utils import timezone

ZERO_TIME = "0001-01-01T00:00:00Z"


def _offset(dt):
    offset = dt.utcoffset()
    if not offset:
        return "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def go_time(dt, *, nanos=None):
    """Format an aware datetime; `nanos` (0..999999999) replaces the microsecond fraction when given."""
    if dt is None:
        return ZERO_TIME
    local = timezone.localtime(dt) if timezone.is_aware(dt) else dt.replace(tzinfo=UTC)
    fraction = nanos if nanos is not None else local.microsecond * 1000
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if fraction:
        text += "." + f"{fraction:09d}".rstrip("0")
    return text + _offset(local)


def go_now():
    ns = time.time_ns()
    seconds, nanos = divmod(ns, 1_000_000_000)
    return go_time(datetime.fromtimestamp(seconds, tz=UTC), nanos=nanos)
