"""Maintenance windows with a frozen clock (every decision is given its `now`): the human form read and written,
openings across midnight, a week's end and DST changes (Europe/Berlin, America/New_York), merged windows, the
expected duration that must fit, label windows, the audited admin-only services and `manage.py maintenance_window`."""

from datetime import UTC, datetime, time, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given
from hypothesis import strategies as st

from tests.support.factories import make_cluster, make_user
from upgrades.audit import Actor
from upgrades.errors import ObshellError
from upgrades.models import AuditEntry, MaintenanceWindow
from upgrades.operations.windows import (
    WEEKDAYS,
    WindowSpec,
    WindowSyntaxError,
    decide,
    format_days,
    format_window,
    occurrences,
    parse_window,
    window_decision,
    windows_by_cluster,
    windows_for,
)
from upgrades.services.labels import label_set
from upgrades.services.windows import window_add, window_remove

SYSTEM = Actor.system("test")
SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3600


def at(zone, *args):
    """An aware moment: wall-clock time `args` in `zone` (fold 0)."""
    return datetime(*args, tzinfo=zone)


def days(*names):
    order = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    return sum(1 << order.index(name) for name in names)


# --- the human form --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tue and Thu 01:00-05:00 Asia/Shanghai", WindowSpec(days("Tue", "Thu"), time(1), time(5), "Asia/Shanghai")),
        ("daily 22:00-02:00 UTC", WindowSpec(0b1111111, time(22), time(2), "UTC")),
        ("Mon-Fri 01:00-05:00 Europe/Berlin", WindowSpec(WEEKDAYS, time(1), time(5), "Europe/Berlin")),
        ("Fri-Mon 23:30-01:15 UTC", WindowSpec(days("Fri", "Sat", "Sun", "Mon"), time(23, 30), time(1, 15), "UTC")),
        ("mon, wed & FRI 1:00-2:00 utc", WindowSpec(days("Mon", "Wed", "Fri"), time(1), time(2), "UTC")),
        (
            "Tuesday and Thursday 01:00 - 05:00 Asia/Shanghai",
            WindowSpec(days("Tue", "Thu"), time(1), time(5), "Asia/Shanghai"),
        ),
        ("every day 22:00-24:00 UTC", WindowSpec(0b1111111, time(22), time(0), "UTC")),
        ("weekends 00:00-06:00 America/New_York", WindowSpec(days("Sat", "Sun"), time(0), time(6), "America/New_York")),
        ("Mon Tue 03:00-04:00 UTC", WindowSpec(days("Mon", "Tue"), time(3), time(4), "UTC")),
    ],
)
def test_parse(text, expected):
    assert parse_window(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Tue 01:00 Asia/Shanghai", "is not a window"),
        ("01:00-05:00 UTC", "is not a window"),
        ("", "is not a window"),
        ("Tue 25:00-05:00 UTC", "not a time of day"),
        ("Tue 01:60-05:00 UTC", "not a time of day"),
        ("Funday 01:00-02:00 UTC", "'funday' is not a day"),
        ("Mon-Funday 01:00-02:00 UTC", "is not a day"),
        ("Tue 01:00-01:00 UTC", "start and end must differ"),
        ("Tue 00:00-24:00 UTC", "start and end must differ"),
        ("Tue 01:00-02:00 Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("Tue 01:00-02:00 ../../etc/passwd", "unknown time zone"),
        ("Tue 01:00-02:00 UTC extra", "is not a window"),
    ],
)
def test_parse_refuses(text, problem):
    with pytest.raises(WindowSyntaxError, match=problem):
        parse_window(text)


@pytest.mark.parametrize(
    ("mask", "text"),
    [
        (0b1111111, "daily"),
        (WEEKDAYS, "Mon-Fri"),
        (days("Tue", "Thu"), "Tue and Thu"),
        (days("Mon", "Wed", "Fri"), "Mon, Wed and Fri"),
        (days("Mon", "Tue", "Wed", "Sat"), "Mon-Wed and Sat"),
        (days("Sat", "Sun"), "Sat and Sun"),
        (days("Sun"), "Sun"),
        (days("Mon", "Tue", "Thu", "Fri", "Sat", "Sun"), "Mon, Tue and Thu-Sun"),
    ],
)
def test_format_days(mask, text):
    assert format_days(mask) == text


def test_format_window_is_the_canonical_form():
    assert format_window(parse_window("tuesday & thursday 1:00-5:00 Asia/Shanghai")) == (
        "Tue and Thu 01:00-05:00 Asia/Shanghai"
    )
    assert str(parse_window("daily 22:00-24:00 utc")) == "daily 22:00-00:00 UTC"


@given(
    mask=st.integers(1, 127),
    start=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    end=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    zone=st.sampled_from(["UTC", "Asia/Shanghai", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]),
)
def test_format_then_parse_round_trips(mask, start, end, zone):
    if start == end:
        return
    spec = WindowSpec(mask, start, end, zone)
    assert parse_window(format_window(spec)) == spec


# --- decisions, UTC and a zone without DST ---------------------------------------------------------------------

TUE_THU = parse_window("Tue and Thu 01:00-05:00 Asia/Shanghai")  # 2026-12-01 is a Tuesday


def test_no_window_always_allowed():
    decision = decide([], now=datetime(2026, 12, 1, tzinfo=UTC), expected_seconds=10 * HOUR)
    assert decision.allowed and decision.window_end is None and decision.next_opening is None
    assert "no maintenance window" in decision.reason


def test_inside_and_fits():
    decision = decide([TUE_THU], now=at(SHANGHAI, 2026, 12, 1, 2, 0), expected_seconds=HOUR)
    assert decision.allowed
    assert decision.window_end == at(SHANGHAI, 2026, 12, 1, 5, 0)
    assert decision.next_opening is None
    assert "until Tue 2026-12-01 05:00 Asia/Shanghai" in decision.reason and "1 h fits" in decision.reason


def test_fits_exactly_to_the_end_but_not_a_second_more():
    now = at(SHANGHAI, 2026, 12, 1, 2, 0)
    assert decide([TUE_THU], now=now, expected_seconds=3 * HOUR).allowed
    late = decide([TUE_THU], now=now, expected_seconds=3 * HOUR + 1)
    assert not late.allowed and late.window_end is None
    assert late.next_opening == at(SHANGHAI, 2026, 12, 3, 1, 0)
    assert "would run past its end at Tue 2026-12-01 05:00 Asia/Shanghai" in late.reason
    assert "next opening that fits: Thu 2026-12-03 01:00 Asia/Shanghai" in late.reason


def test_start_inclusive_end_exclusive():
    assert decide([TUE_THU], now=at(SHANGHAI, 2026, 12, 1, 1, 0), expected_seconds=0).allowed
    before = decide([TUE_THU], now=at(SHANGHAI, 2026, 12, 1, 0, 59, 59), expected_seconds=0)
    assert not before.allowed and before.next_opening == at(SHANGHAI, 2026, 12, 1, 1, 0)
    assert "outside its maintenance windows" in before.reason
    assert decide([TUE_THU], now=at(SHANGHAI, 2026, 12, 1, 4, 59, 59), expected_seconds=1).allowed
    closed = decide([TUE_THU], now=at(SHANGHAI, 2026, 12, 1, 5, 0), expected_seconds=0)
    assert not closed.allowed and closed.next_opening == at(SHANGHAI, 2026, 12, 3, 1, 0)


def test_the_next_week_after_thursday():
    decision = decide([TUE_THU], now=at(SHANGHAI, 2026, 12, 3, 6, 0), expected_seconds=HOUR)
    assert decision.next_opening == at(SHANGHAI, 2026, 12, 8, 1, 0)


def test_never_fits():
    decision = decide([TUE_THU], now=at(SHANGHAI, 2026, 12, 1, 0, 0), expected_seconds=4 * HOUR + 1)
    assert not decision.allowed and decision.next_opening is None and decision.window_end is None
    assert "no opening in the next 15 days is long enough for 4 h" in decision.reason


def test_utc_moment_of_a_shanghai_window():
    # 01:00 in Shanghai (UTC+8, no DST) is 17:00 UTC the day before.
    decision = decide([TUE_THU], now=datetime(2026, 11, 30, 16, 0, tzinfo=UTC), expected_seconds=0)
    assert decision.next_opening == datetime(2026, 11, 30, 17, 0, tzinfo=UTC)


def test_naive_now_refused():
    with pytest.raises(ValueError, match="aware"):
        decide([TUE_THU], now=datetime(2026, 12, 1, 2, 0), expected_seconds=0)


# --- across midnight and the week's end --------------------------------------------------------------------------

DAILY_NIGHT = parse_window("daily 22:00-02:00 UTC")
TUE_NIGHT = parse_window("Tue 22:00-02:00 UTC")
SUNDAY_NIGHT = parse_window("Sun 23:00-01:00 UTC")


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_midnight_crossing_before_midnight():
    decision = decide([DAILY_NIGHT], now=utc(2026, 12, 1, 23, 0), expected_seconds=2 * HOUR)
    assert decision.allowed and decision.window_end == utc(2026, 12, 2, 2, 0)


def test_midnight_crossing_after_midnight_belongs_to_yesterdays_occurrence():
    decision = decide([DAILY_NIGHT], now=utc(2026, 12, 2, 1, 0), expected_seconds=HOUR)
    assert decision.allowed and decision.window_end == utc(2026, 12, 2, 2, 0)
    late = decide([DAILY_NIGHT], now=utc(2026, 12, 2, 1, 30), expected_seconds=HOUR)
    assert not late.allowed and late.next_opening == utc(2026, 12, 2, 22, 0)


def test_a_days_window_crossing_midnight_opens_on_its_day_only():
    assert decide([TUE_NIGHT], now=utc(2026, 12, 2, 1, 0), expected_seconds=0).allowed  # Wed 01:00: Tue's
    monday_night = decide([TUE_NIGHT], now=utc(2026, 12, 1, 1, 0), expected_seconds=0)  # Tue 01:00: Mon had none
    assert not monday_night.allowed and monday_night.next_opening == utc(2026, 12, 1, 22, 0)


def test_sunday_night_into_monday():
    assert decide([SUNDAY_NIGHT], now=utc(2026, 12, 7, 0, 30), expected_seconds=30 * 60).allowed  # Mon 00:30
    decision = decide([SUNDAY_NIGHT], now=utc(2026, 12, 7, 0, 31), expected_seconds=30 * 60)
    assert decision.next_opening == utc(2026, 12, 13, 23, 0)


def test_24_00_end():
    window = parse_window("Mon-Fri 22:00-24:00 UTC")
    decision = decide([window], now=utc(2026, 12, 4, 22, 0), expected_seconds=2 * HOUR)  # Fri
    assert decision.allowed and decision.window_end == utc(2026, 12, 5, 0, 0)
    assert decide([window], now=utc(2026, 12, 5, 22, 0), expected_seconds=0).next_opening == utc(2026, 12, 7, 22, 0)


# --- DST --------------------------------------------------------------------------------------------------------

SUNDAY_BERLIN = parse_window("Sun 01:00-05:00 Europe/Berlin")


def test_spring_forward_night_is_an_hour_shorter():
    # 2026-03-29: Berlin's clocks go from 02:00 CET to 03:00 CEST. 01:00 CET is 00:00 UTC, 05:00 CEST 03:00 UTC.
    opens = at(BERLIN, 2026, 3, 29, 1, 0)
    assert opens == utc(2026, 3, 29, 0, 0)
    decision = decide([SUNDAY_BERLIN], now=opens, expected_seconds=3 * HOUR)
    assert decision.allowed and decision.window_end == utc(2026, 3, 29, 3, 0)
    longer = decide([SUNDAY_BERLIN], now=opens, expected_seconds=3 * HOUR + 60)
    assert not longer.allowed
    # The next Sunday is on summer time all night: 01:00 CEST is 23:00 UTC on Saturday, and 4 hours fit.
    assert longer.next_opening == utc(2026, 4, 4, 23, 0)
    assert decide([SUNDAY_BERLIN], now=longer.next_opening, expected_seconds=4 * HOUR).allowed


def test_fall_back_night_is_an_hour_longer():
    # 2026-10-25: 03:00 CEST becomes 02:00 CET. 01:00 CEST is 23:00 UTC Saturday, 05:00 CET 04:00 UTC: 5 hours.
    opens = utc(2026, 10, 24, 23, 0)
    decision = decide([SUNDAY_BERLIN], now=opens, expected_seconds=5 * HOUR)
    assert decision.allowed and decision.window_end == utc(2026, 10, 25, 4, 0)
    assert not decide([SUNDAY_BERLIN], now=opens, expected_seconds=5 * HOUR + 1).allowed
    assert "Sun 2026-10-25 05:00 Europe/Berlin" in decision.reason


def test_window_keeps_its_local_hours_across_the_change():
    new_york = parse_window("daily 09:00-10:00 America/New_York")  # DST from 2026-03-08
    before = decide([new_york], now=utc(2026, 3, 7, 0, 0), expected_seconds=0).next_opening
    after = decide([new_york], now=utc(2026, 3, 9, 0, 0), expected_seconds=0).next_opening
    assert before == utc(2026, 3, 7, 14, 0) and after == utc(2026, 3, 9, 13, 0)


def test_a_skipped_wall_time_moves_forward_by_the_gap():
    window = parse_window("Sun 02:30-04:00 Europe/Berlin")
    spans = occurrences(window, since=utc(2026, 3, 28), until=utc(2026, 3, 30))
    # 02:30 does not exist that night: the window opens at 03:30 CEST (01:30 UTC) and closes at 04:00 CEST.
    assert spans == [(utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 2, 0))]


def test_a_repeated_wall_time_means_its_first_occurrence():
    window = parse_window("Sun 02:30-03:30 Europe/Berlin")
    spans = occurrences(window, since=utc(2026, 10, 24), until=utc(2026, 10, 26))
    # 02:30 happens twice: first in CEST (00:30 UTC). 03:30 is CET (02:30 UTC): 2 hours that night.
    assert spans == [(utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 2, 30))]


# --- several windows ----------------------------------------------------------------------------------------------


def test_touching_windows_form_one_opening():
    early, late = parse_window("Tue 01:00-03:00 UTC"), parse_window("Tue 03:00-05:00 UTC")
    decision = decide([early, late], now=utc(2026, 12, 1, 1, 0), expected_seconds=4 * HOUR)
    assert decision.allowed and decision.window_end == utc(2026, 12, 1, 5, 0)
    assert "Tue 01:00-03:00 UTC" in decision.reason and "Tue 03:00-05:00 UTC" in decision.reason
    assert not decide([early], now=utc(2026, 12, 1, 1, 0), expected_seconds=4 * HOUR).allowed


def test_overlapping_windows_in_two_zones():
    shanghai = parse_window("Tue 01:00-05:00 Asia/Shanghai")  # Mon 17:00-21:00 UTC
    utc_evening = parse_window("Mon 20:00-23:00 UTC")
    decision = decide([shanghai, utc_evening], now=utc(2026, 11, 30, 17, 0), expected_seconds=6 * HOUR)
    assert decision.allowed and decision.window_end == utc(2026, 11, 30, 23, 0)


def test_the_earliest_opening_long_enough_is_chosen():
    short, long = parse_window("Wed 01:00-02:00 UTC"), parse_window("Fri 01:00-05:00 UTC")
    decision = decide([short, long], now=utc(2026, 12, 1, 12, 0), expected_seconds=2 * HOUR)
    assert decision.next_opening == utc(2026, 12, 4, 1, 0)
    assert decide([short, long], now=utc(2026, 12, 1, 12, 0), expected_seconds=HOUR).next_opening == utc(
        2026, 12, 2, 1, 0
    )


# --- windows of clusters and labels (database) ----------------------------------------------------------------


@pytest.fixture
def prod(db):
    cluster = make_cluster("prod1")
    label_set(cluster=cluster, key="env", value="prod", actor=SYSTEM)
    return cluster


def test_windows_for_includes_label_windows(prod):
    other = make_cluster("other1")
    own = window_add(cluster=prod, window="Tue 01:00-02:00 UTC", actor=SYSTEM)
    by_label = window_add(label="env=prod", window="Thu 01:00-02:00 UTC", name="prod nights", actor=SYSTEM)
    window_add(label="env=test", window="daily 01:00-02:00 UTC", actor=SYSTEM)
    window_add(cluster=other, window="daily 03:00-04:00 UTC", actor=SYSTEM)
    with CaptureQueriesContext(connection) as queries:
        assert windows_for(prod) == [own, by_label]
    assert len(queries) == 1
    assert windows_for(make_cluster("bare1")) == []
    with CaptureQueriesContext(connection) as queries:
        found = windows_by_cluster([prod.pk, other.pk])
    assert len(queries) == 3
    assert found[prod.pk] == [own, by_label] and [w.cluster_id for w in found[other.pk]] == [other.pk]


def test_window_decision_of_a_cluster(prod):
    assert window_decision(prod, now=utc(2026, 12, 1, 1, 0), expected_seconds=HOUR).allowed  # no window yet
    window_add(label="env=prod", window="Thu 01:00-02:00 UTC", name="prod nights", actor=SYSTEM)
    decision = window_decision(prod, now=utc(2026, 12, 1, 1, 0), expected_seconds=HOUR)
    assert not decision.allowed and decision.next_opening == utc(2026, 12, 3, 1, 0)
    assert "“prod nights” (Thu 01:00-02:00 UTC)" in decision.reason
    assert window_decision(prod, now=utc(2026, 12, 1, 1, 0), expected_seconds=HOUR, windows=[]).allowed


def test_window_add_validates_and_audits(prod):
    window = window_add(cluster=prod, window="tue & thu 1:00-5:00 asia/shanghai", name="night", actor=SYSTEM)
    assert (window.days, window.start, window.end, window.time_zone) == (
        days("Tue", "Thu"),
        time(1),
        time(5),
        "Asia/Shanghai",
    )
    entry = AuditEntry.objects.get(action=AuditEntry.Action.WINDOW_ADD)
    assert entry.cluster == prod and entry.detail["window"] == "Tue and Thu 01:00-05:00 Asia/Shanghai"
    with pytest.raises(ObshellError, match="is not a day"):
        window_add(cluster=prod, window="Funday 01:00-02:00 UTC", actor=SYSTEM)
    with pytest.raises(ObshellError, match="a cluster or to a label"):
        window_add(cluster=prod, label="env=prod", window="Tue 01:00-02:00 UTC", actor=SYSTEM)
    with pytest.raises(ObshellError, match="a cluster or to a label"):
        window_add(window="Tue 01:00-02:00 UTC", actor=SYSTEM)
    with pytest.raises(ObshellError, match="key=value"):
        window_add(label="env", window="Tue 01:00-02:00 UTC", actor=SYSTEM)
    assert MaintenanceWindow.objects.count() == 1
    assert AuditEntry.objects.filter(action="window.add", outcome="refused").count() == 4


@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_only_admins_change_windows(prod, role):
    actor = Actor.for_user(make_user(role))
    with pytest.raises(ObshellError, match="needs the admin role"):
        window_add(cluster=prod, window="Tue 01:00-02:00 UTC", actor=actor)
    window = window_add(cluster=prod, window="Tue 01:00-02:00 UTC", actor=Actor.for_user(make_user("admin")))
    assert window.created_by.groups.get().name == "admin"
    with pytest.raises(ObshellError, match="needs the admin role"):
        window_remove(window=window, actor=actor)
    assert MaintenanceWindow.objects.filter(pk=window.pk).exists()


def test_window_remove_audits_what_it_was(prod):
    window = window_add(label="env=prod", window="daily 22:00-02:00 UTC", actor=SYSTEM)
    window_remove(window=window, actor=SYSTEM)
    assert not MaintenanceWindow.objects.exists()
    entry = AuditEntry.objects.get(action=AuditEntry.Action.WINDOW_REMOVE)
    assert entry.detail == {"id": window.pk, "window": "daily 22:00-02:00 UTC", "name": "", "label": "env=prod"}
    with pytest.raises(ObshellError, match="already removed"):
        window_remove(window=window, actor=SYSTEM)


def test_maintenance_window_command(prod):
    out = StringIO()
    call_command("maintenance_window", "add", "--cluster", "prod1", "Tue and Thu 01:00-05:00 Asia/Shanghai", stdout=out)
    call_command(
        "maintenance_window", "add", "--label", "env=prod", "daily 22:00-02:00 UTC", "--name", "nightly", stdout=out
    )
    first, second = MaintenanceWindow.objects.order_by("id")
    assert out.getvalue().splitlines() == [
        f"Added window {first.pk}: cluster prod1: Tue and Thu 01:00-05:00 Asia/Shanghai",
        f"Added window {second.pk}: label env=prod: daily 22:00-02:00 UTC “nightly”",
    ]
    out = StringIO()
    call_command("maintenance_window", "list", "--cluster", "prod1", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[:2] == [
        f"{first.pk}\tcluster prod1: Tue and Thu 01:00-05:00 Asia/Shanghai",
        f"{second.pk}\tlabel env=prod: daily 22:00-02:00 UTC “nightly”",
    ]
    assert lines[2].startswith(("now: open: inside", "now: closed: outside"))
    out = StringIO()
    call_command("maintenance_window", "remove", str(first.pk), stdout=out)
    assert out.getvalue().strip() == f"Removed window {first.pk}: cluster prod1: Tue and Thu 01:00-05:00 Asia/Shanghai"
    out = StringIO()
    call_command("maintenance_window", "list", stdout=out)
    assert out.getvalue().strip() == f"{second.pk}\tlabel env=prod: daily 22:00-02:00 UTC “nightly”"
    with pytest.raises(CommandError, match="not a time of day"):
        call_command("maintenance_window", "add", "--cluster", "prod1", "Tue 25:00-26:00 UTC")
    with pytest.raises(CommandError, match="no maintenance window with id"):
        call_command("maintenance_window", "remove", "99999")
    with pytest.raises(CommandError, match="no cluster named"):
        call_command("maintenance_window", "list", "--cluster", "nope")
    assert AuditEntry.objects.filter(actor_label__startswith="command ", outcome="ok").count() == 3
    out = StringIO()
    call_command("maintenance_window", "list", "--cluster", make_cluster("bare2").name, stdout=out)
    assert "no maintenance window" in out.getvalue()


def test_a_window_spans_the_right_length_every_day_of_a_dst_year():
    # Every Sunday of 2026 in Berlin: 4 hours, except the spring-forward (3) and fall-back (5) nights.
    spans = occurrences(SUNDAY_BERLIN, since=utc(2026, 1, 1), until=utc(2027, 1, 1))
    lengths = {opens.date(): (closes - opens) / timedelta(hours=1) for opens, closes in spans}
    assert len(spans) == 52
    odd = {day: hours for day, hours in lengths.items() if hours != 4}
    assert odd == {datetime(2026, 3, 29).date(): 3, datetime(2026, 10, 24).date(): 5}
