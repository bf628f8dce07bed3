"""/runs/: every run with from→to, mode, who and why, state, start and duration; filters; CSV export."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.support.builds import OB_4_2_1_1_20231101
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster, make_user
from upgrades.audit import Actor
from upgrades.models import Dag
from upgrades.models.dag import State

pytestmark = pytest.mark.django_db


@pytest.fixture
def runs(target):
    """Three real runs: alpha rolling by alice (still running), beta stop-service by bob (failed, two days ago),
    gamma rolling by bob (succeeded)."""
    alice, bob = make_user("operator", username="alice"), make_user("operator", username="bob")
    made = {}
    for name, mode, user, reason in (
        ("alpha", "ROLLING", alice, "CHG-1 bug fixes"),
        ("beta", "STOPSERVICE", bob, '=HYPERLINK("x")'),
        ("gamma", "ROLLING", bob, "CHG-3 security"),
    ):
        cluster = make_cluster(name)
        made[name] = start_upgrade(cluster, OB_4_2_1_1_20231101, mode=mode, actor=Actor.for_user(user), reason=reason)
    now = timezone.now()
    Dag.objects.filter(pk=made["alpha"].pk).update(state=State.RUNNING, stage=7)
    Dag.objects.filter(pk=made["beta"].pk).update(
        state=State.FAILED, created_at=now - timedelta(days=2), end_time=now - timedelta(days=2) + timedelta(seconds=95)
    )
    Dag.objects.filter(pk=made["gamma"].pk).update(
        state=State.SUCCEED,
        holds_lock=False,
        is_finished=True,
        end_time=made["gamma"].created_at + timedelta(seconds=3725),
    )
    return made


def rows(html):
    return [line for line in html.splitlines() if "<tr data-run=" in line]


def test_lists_every_run_with_its_story(client, as_role, runs):
    as_role("viewer")
    html = client.get("/runs/").content.decode()
    assert len(rows(html)) == 3
    for text in ("4.2.1.0-100000102023092807", "4.2.1.1-101000012023110109", "user alice", "CHG-1 bug fixes",
                 "STOPSERVICE", "stage 7/", "1m 35s", "1h 02m"):  # fmt: skip
        assert text in html, text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("cluster=beta", {"beta"}),
        ("state=RUNNING", {"alpha"}),
        ("state=FAILED&holding=1", {"beta"}),
        ("mode=ROLLING", {"alpha", "gamma"}),
        ("actor=bob", {"beta", "gamma"}),
        ("actor=bob&mode=ROLLING", {"gamma"}),
    ],
)
def test_filters(client, as_role, runs, query, expected):
    as_role("viewer")
    html = client.get(f"/runs/?{query}").content.decode()
    shown = {name for name, dag in runs.items() if f'<tr data-run="{dag.pk}">' in html}
    assert shown == expected


def test_date_range_filter(client, as_role, runs):
    as_role("viewer")
    today = timezone.localdate()
    html = client.get(f"/runs/?date_from={today.isoformat()}").content.decode()
    assert len(rows(html)) == 2
    day = (today - timedelta(days=2)).isoformat()
    html = client.get(f"/runs/?date_from={day}&date_to={day}").content.decode()
    assert [f'data-run="{runs["beta"].pk}"' in r for r in rows(html)] == [True]


def test_inverted_date_range_is_an_error_not_everything(client, as_role, runs):
    as_role("viewer")
    html = client.get("/runs/?date_from=2026-05-02&date_to=2026-05-01").content.decode()
    assert "The start date is after the end date" in html
    assert rows(html) == []


def test_csv_export_honours_filters_and_neutralises_formulas(client, as_role, runs):
    as_role("viewer")
    response = client.get("/runs/?actor=bob&format=csv")
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {row["cluster"] for row in table} == {"beta", "gamma"}
    beta = next(row for row in table if row["cluster"] == "beta")
    assert (
        beta["dag_id"] == str(runs["beta"].pk)
        and beta["generic_id"] == runs["beta"].generic_id
        and beta["mode"] == "STOPSERVICE"
        and beta["state"] == "FAILED"
    )
    assert beta["from_version"] == "4.2.1.0-100000102023092807" and beta["actor"] == "user bob"
    assert beta["duration_seconds"] == "95"
    assert beta["reason"] == '\'=HYPERLINK("x")'


def test_empty_states(client, as_role):
    as_role("viewer")
    assert "No runs yet" in client.get("/runs/").content.decode()
    assert "No run matches these filters" in client.get("/runs/?state=FAILED").content.decode()
