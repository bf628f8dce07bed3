"""Times as obshell's Go encoder writes them: RFC 3339 with nanoseconds, trailing zeros dropped, server-local
zone, a zero offset written `Z` (spec 1.1)."""

import time
from datetime import UTC, datetime

from django.utils import timezone

ZERO_TIME = "0001-01-01T00:00:00Z"


def _offset(local):
    offset = local.utcoffset()
    if not offset:
        return "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def _format(local, fraction):
    text = f"{local.year:04d}-{local.month:02d}-{local.day:02d}T{local.hour:02d}:{local.minute:02d}:{local.second:02d}"
    if fraction:
        text += "." + f"{fraction:09d}".rstrip("0")
    return text + _offset(local)


class GoTimes:
    """Formats many datetimes in the current zone; a DAG detail formats thousands, so the zone is looked up
    once and repeated values are formatted once."""

    def __init__(self):
        self.zone = timezone.get_current_timezone()
        self.seen = {}

    def __call__(self, dt):
        if dt is None:
            return ZERO_TIME
        text = self.seen.get(dt)
        if text is None:
            aware = dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
            text = _format(aware.astimezone(self.zone), aware.microsecond * 1000)
            self.seen[dt] = text
        return text


def go_time(dt, *, nanos=None):
    """Format one datetime; `nanos` (0..999999999) replaces the microsecond fraction when given."""
    if dt is None:
        return ZERO_TIME
    aware = dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
    local = aware.astimezone(timezone.get_current_timezone())
    return _format(local, nanos if nanos is not None else local.microsecond * 1000)


def go_now():
    seconds, nanos = divmod(time.time_ns(), 1_000_000_000)
    return go_time(datetime.fromtimestamp(seconds, tz=UTC), nanos=nanos)
