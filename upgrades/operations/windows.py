"""Maintenance windows as rules: the human form ("Tue and Thu 01:00-05:00 Asia/Shanghai", "daily 22:00-02:00 UTC",
"Mon-Fri 01:00-05:00 Europe/Berlin") read and written, the windows that apply to a cluster, and whether a run
expected to take N seconds may start now (and if not, when next).

    parse_window("Tue and Thu 01:00-05:00 Asia/Shanghai")  -> WindowSpec(days, start, end, time_zone)
    format_window(window)                                   -> "Tue and Thu 01:00-05:00 Asia/Shanghai"
    windows_for(cluster)                                    -> its own windows and those of its labels
    window_decision(cluster, now=..., expected_seconds=...) -> WindowDecision(allowed, reason, window_end,
                                                               next_opening)

The rules:
- A cluster with no window may start at any time.
- An occurrence opens on each named day at `start` and closes at `end` the same day, or the next day when `end`
  is before `start` (it crosses midnight). Both are wall-clock times in the window's zone, so a window keeps its
  local hours across a DST change (and lasts an hour less or more that night). A wall time the change skips
  is moved forward by the gap (02:30 on a spring-forward night is 03:30); a repeated one means its first
  occurrence.
- Occurrences of all the cluster's windows that overlap or touch form one opening: a run may start inside an
  opening when now + expected_seconds <= the opening's end (start inclusive, end exclusive).
- Otherwise the answer names the next opening where the whole expected duration fits, looking HORIZON_DAYS ahead.

A core module: it imports only models and libraries.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Protocol
from zoneinfo import ZoneInfo, available_timezones

from django.db.models import Exists, OuterRef, Q

from upgrades.models import Cluster, ClusterLabel, MaintenanceWindow
from upgrades.models.windows import ALL_DAYS

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
WEEKDAYS = 0b0011111
WEEKENDS = 0b1100000
_DAY_ALIASES = {
    **{name.lower(): index for index, name in enumerate(DAY_NAMES)},
    **{
        name: index
        for index, names in enumerate(
            (
                ("monday",),
                ("tues", "tuesday"),
                ("weds", "wednesday"),
                ("thur", "thurs", "thursday"),
                ("friday",),
                ("saturday",),
                ("sunday",),
            )
        )
        for name in names
    },
}
_DAY_WORDS = {"daily": ALL_DAYS, "everyday": ALL_DAYS, "weekdays": WEEKDAYS, "weekends": WEEKENDS}
_WINDOW_RE = re.compile(
    r"^\s*(?P<days>.+?)\s+(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s+(?P<zone>\S+)\s*$"
)
_TIME_RE = re.compile(r"^(?P<hour>\d{1,2}):(?P<minute>\d{2})$")
# How far ahead the next opening is looked for: two weeks and a day cover every weekly pattern and DST change.
HORIZON_DAYS = 15
EXAMPLES = "Tue and Thu 01:00-05:00 Asia/Shanghai, daily 22:00-02:00 UTC, Mon-Fri 01:00-05:00 Europe/Berlin"


class WindowSyntaxError(ValueError):
    """A maintenance window's text that cannot be read; the message says what is wrong and shows the form."""


class WindowLike(Protocol):
    """A window's rule: a MaintenanceWindow row or a WindowSpec."""

    @property
    def days(self) -> int: ...
    @property
    def start(self) -> time: ...
    @property
    def end(self) -> time: ...
    @property
    def time_zone(self) -> str: ...


@dataclass(frozen=True)
class WindowSpec:
    days: int  # bit 0 Monday ... bit 6 Sunday
    start: time
    end: time
    time_zone: str

    @property
    def crosses_midnight(self) -> bool:
        return self.end < self.start

    def __str__(self) -> str:
        return format_window(self)


@dataclass(frozen=True)
class WindowDecision:
    allowed: bool
    reason: str
    # The end of the opening a run may start in now (allowed), else None.
    window_end: datetime | None
    # The first moment, after now, a run of the expected duration may start (not allowed), else None.
    next_opening: datetime | None


@dataclass(frozen=True)
class Opening:
    """Overlapping or touching occurrences of windows, as one span of UTC time."""

    start: datetime
    end: datetime
    windows: tuple[WindowLike, ...]


# --- the human form -------------------------------------------------------------------------------------------


@cache
def _zone_names() -> dict[str, str]:
    """Every IANA zone this machine knows, by its lowercase name."""
    return {name.lower(): name for name in available_timezones()}


def time_zone_checked(name: str) -> str:
    """The IANA time zone `name` names, in its own spelling ("asia/shanghai" is Asia/Shanghai), else
    WindowSyntaxError."""
    name = (name or "").strip()
    known = _zone_names().get(name.lower())
    if known is None:
        raise WindowSyntaxError(f"unknown time zone {name!r}: give an IANA name such as Asia/Shanghai or UTC")
    return known


def parse_days(text: str) -> int:
    """ "Tue and Thu", "Mon-Fri", "Mon, Wed, Fri", "Fri-Mon" (wraps), "daily", "weekdays" -> a day mask."""
    words = re.sub(r"\s+and\s+|\s*&\s*|\s*,\s*|\s+", ",", text.strip().lower())
    words = words.replace("every,day", "daily")
    mask = 0
    for word in filter(None, words.split(",")):
        if word in _DAY_WORDS:
            mask |= _DAY_WORDS[word]
            continue
        first, dash, last = word.partition("-")
        if first not in _DAY_ALIASES or (dash and last not in _DAY_ALIASES):
            raise WindowSyntaxError(
                f"{word!r} is not a day: use Mon Tue Wed Thu Fri Sat Sun, ranges such as Mon-Fri, or daily"
            )
        day, stop = _DAY_ALIASES[first], _DAY_ALIASES[last] if dash else _DAY_ALIASES[first]
        mask |= 1 << day
        while day != stop:
            day = (day + 1) % 7
            mask |= 1 << day
    if not mask:
        raise WindowSyntaxError("a window needs at least one day, e.g. Tue and Thu, Mon-Fri or daily")
    return mask


def parse_time(text: str) -> time:
    """ "HH:MM" (24:00 is midnight, as the end of a window)."""
    match = _TIME_RE.match(text.strip())
    hour, minute = (int(match["hour"]), int(match["minute"])) if match else (-1, -1)
    if (hour, minute) == (24, 0):
        return time(0, 0)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise WindowSyntaxError(f"{text!r} is not a time of day: write HH:MM, 00:00 to 23:59")
    return time(hour, minute)


def window_spec(*, days: int, start: time, end: time, time_zone: str) -> WindowSpec:
    """A checked WindowSpec (WindowSyntaxError when a part is wrong)."""
    if not 1 <= days <= ALL_DAYS:
        raise WindowSyntaxError("a window needs at least one day, e.g. Tue and Thu, Mon-Fri or daily")
    if start == end:
        raise WindowSyntaxError("a window's start and end must differ (an end before the start crosses midnight)")
    return WindowSpec(days=days, start=start, end=end, time_zone=time_zone_checked(time_zone))


def parse_window(text: str) -> WindowSpec:
    """The human form, "<days> HH:MM-HH:MM <IANA zone>", as a WindowSpec; WindowSyntaxError when unreadable."""
    match = _WINDOW_RE.match(text or "")
    if match is None:
        raise WindowSyntaxError(
            f"{(text or '').strip()!r} is not a window: write days, HH:MM-HH:MM and a time zone, e.g. {EXAMPLES}"
        )
    return window_spec(
        days=parse_days(match["days"]),
        start=parse_time(match["start"]),
        end=parse_time(match["end"]),
        time_zone=match["zone"],
    )


def format_days(days: int) -> str:
    """A day mask as people write it: "daily", "Mon-Fri", "Tue and Thu", "Mon, Wed and Fri"."""
    if days == ALL_DAYS:
        return "daily"
    parts: list[str] = []
    day = 0
    while day < 7:
        if not days >> day & 1:
            day += 1
            continue
        last = day
        while last + 1 < 7 and days >> (last + 1) & 1:
            last += 1
        if last - day >= 2:
            parts.append(f"{DAY_NAMES[day]}-{DAY_NAMES[last]}")
        else:
            parts.extend(DAY_NAMES[d] for d in range(day, last + 1))
        day = last + 1
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def format_window(window: WindowLike) -> str:
    """The human form parse_window reads back: "Tue and Thu 01:00-05:00 Asia/Shanghai"."""
    return f"{format_days(window.days)} {window.start:%H:%M}-{window.end:%H:%M} {window.time_zone}"


def window_title(window: WindowLike) -> str:
    """How a reason names a window: its name and rule, or the rule alone."""
    name = getattr(window, "name", "")
    return f"“{name}” ({format_window(window)})" if name else f"“{format_window(window)}”"


# --- which windows apply ---------------------------------------------------------------------------------------


def windows_for(cluster: Cluster) -> list[MaintenanceWindow]:
    """The cluster's own windows and those of the labels it carries, in creation order; one query."""
    own_label = ClusterLabel.objects.filter(cluster=cluster, key=OuterRef("label_key"), value=OuterRef("label_value"))
    return list(
        MaintenanceWindow.objects.filter(Q(cluster=cluster) | Q(cluster__isnull=True) & Exists(own_label)).order_by(
            "id"
        )
    )


def windows_by_cluster(cluster_ids: Iterable[int]) -> dict[int, list[MaintenanceWindow]]:
    """windows_for() of many clusters at once (three queries whatever their number): cluster id -> windows."""
    ids = list(cluster_ids)
    found: dict[int, list[MaintenanceWindow]] = {cluster_id: [] for cluster_id in ids}
    for window in MaintenanceWindow.objects.filter(cluster_id__in=ids).order_by("id"):
        if window.cluster_id is not None:
            found[window.cluster_id].append(window)
    by_label: dict[tuple[str, str], list[MaintenanceWindow]] = defaultdict(list)
    for window in MaintenanceWindow.objects.filter(cluster__isnull=True).order_by("id"):
        by_label[(window.label_key, window.label_value)].append(window)
    if by_label:
        labels = ClusterLabel.objects.filter(cluster_id__in=ids).values_list("cluster_id", "key", "value")
        for cluster_id, key, value in labels:
            found[cluster_id].extend(by_label.get((key, value), []))
    for windows in found.values():
        windows.sort(key=lambda window: window.pk)
    return found


# --- when a run may start ---------------------------------------------------------------------------------------


def occurrences(window: WindowLike, *, since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
    """The (start, end) of each occurrence of `window` that overlaps [since, until), in UTC."""
    zone = ZoneInfo(window.time_zone)
    first: date = since.astimezone(zone).date() - timedelta(days=1)  # yesterday's may cross midnight into today
    last: date = until.astimezone(zone).date()
    found = []
    day = first
    while day <= last:
        if window.days >> day.weekday() & 1:
            opens = datetime.combine(day, window.start, tzinfo=zone).astimezone(UTC)
            end_day = day if window.end > window.start else day + timedelta(days=1)
            closes = datetime.combine(end_day, window.end, tzinfo=zone).astimezone(UTC)
            if closes > opens and closes > since and opens < until:
                found.append((opens, closes))
        day += timedelta(days=1)
    return found


def openings(windows: Sequence[WindowLike], *, since: datetime, until: datetime) -> list[Opening]:
    """The occurrences of all `windows` overlapping [since, until), merged where they overlap or touch."""
    spans = sorted(
        (opens, closes, index)
        for index, window in enumerate(windows)
        for opens, closes in occurrences(window, since=since, until=until)
    )
    merged: list[Opening] = []
    for opens, closes, index in spans:
        if merged and opens <= merged[-1].end:
            last = merged[-1]
            members = last.windows if windows[index] in last.windows else (*last.windows, windows[index])
            merged[-1] = Opening(start=last.start, end=max(last.end, closes), windows=members)
        else:
            merged.append(Opening(start=opens, end=closes, windows=(windows[index],)))
    return merged


def decide(windows: Sequence[WindowLike], *, now: datetime, expected_seconds: float) -> WindowDecision:
    """window_decision() for given windows (no database): see the module's rules."""
    if not windows:
        return WindowDecision(True, "no maintenance window: it may start at any time", None, None)
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    now = now.astimezone(UTC)  # arithmetic on a zone's aware datetime is wall-clock arithmetic: wrong across DST
    need = timedelta(seconds=max(float(expected_seconds or 0), 0.0))
    spans = openings(windows, since=now, until=now + timedelta(days=HORIZON_DAYS) + need)
    duration = _duration(need)
    current = next((span for span in spans if span.start <= now < span.end), None)
    if current is not None and now + need <= current.end:
        return WindowDecision(
            True,
            f"inside maintenance window {_titles(current)} until {_local(current.end, current)}: "
            f"the expected {duration} fits",
            current.end,
            None,
        )
    upcoming = next((span for span in spans if span.start > now and span.start + need <= span.end), None)
    if current is not None:
        why = (
            f"inside maintenance window {_titles(current)}, but the expected {duration} would run past its end "
            f"at {_local(current.end, current)}"
        )
    else:
        why = "outside its maintenance windows"
    if upcoming is None:
        return WindowDecision(
            False, f"{why}; no opening in the next {HORIZON_DAYS} days is long enough for {duration}", None, None
        )
    return WindowDecision(
        False,
        f"{why}; next opening that fits: {_local(upcoming.start, upcoming)} ({_titles(upcoming)})",
        None,
        upcoming.start,
    )


def window_decision(
    cluster: Cluster,
    *,
    now: datetime,
    expected_seconds: float,
    windows: Sequence[WindowLike] | None = None,
) -> WindowDecision:
    """May a run of `cluster` expected to take `expected_seconds` start at `now`? `windows` spares the query
    when the caller has them (windows_by_cluster)."""
    return decide(windows_for(cluster) if windows is None else windows, now=now, expected_seconds=expected_seconds)


def _titles(span: Opening) -> str:
    return " + ".join(window_title(window) for window in span.windows)


def _local(moment: datetime, span: Opening) -> str:
    zone = span.windows[0].time_zone
    return f"{moment.astimezone(ZoneInfo(zone)):%a %Y-%m-%d %H:%M} {zone}"


def _duration(need: timedelta) -> str:
    seconds = int(need.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours} h {minutes} min" if hours and minutes else f"{hours} h" if hours else f"{minutes} min"
