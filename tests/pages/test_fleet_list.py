"""The fleet page at scale: search (?q=), edition and state filters, sorting, pagination, the versions CSV, and
the top-bar counters leading to the filtered list. Bad parameters are ignored with a word, never a 500."""

import csv
import io
import re

import pytest
from django.utils import timezone

from tests.support.builds import OB_4_2_1_1_20231101
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from upgrades.models import Cluster, ClusterLabel, Dag
from upgrades.models.cluster import Backend
from upgrades.models.dag import State

pytestmark = pytest.mark.django_db


def names(response):
    """The clusters listed, in order."""
    return re.findall(r'<tr data-cluster="([^"]+)"', response.content.decode())


def state_of(response, name):
    match = re.search(rf'<tr data-cluster="{name}" data-fleet-state="([a-z_]+)"', response.content.decode())
    return match.group(1) if match else None


@pytest.fixture
def fleet(db, target):
    """One cluster in each fleet state, plus a standalone one (up to date: no standalone package is stored)."""
    running = start_upgrade(make_cluster("c-running"), OB_4_2_1_1_20231101)
    Dag.objects.filter(pk=running.pk).update(state=State.RUNNING)
    held = start_upgrade(make_cluster("d-held"), OB_4_2_1_1_20231101)
    Dag.objects.filter(pk=held.pk).update(state=State.FAILED)
    failed = start_upgrade(make_cluster("e-failed"), OB_4_2_1_1_20231101)
    Dag.objects.filter(pk=failed.pk).update(state=State.FAILED, holds_lock=False, is_finished=True)
    unreachable = make_cluster("f-unreachable")
    Cluster.objects.filter(pk=unreachable.pk).update(backend=Backend.OBSHELL, unreachable_since=timezone.now())
    make_cluster("a-upgradable")
    make_cluster("b-current", version=OB_4_2_1_1_20231101.version, build=OB_4_2_1_1_20231101.build_number)
    make_cluster("g-solo", edition="standalone", zones=1)


EXPECTED_STATES = {
    "a-upgradable": "upgradable",
    "b-current": "up_to_date",
    "c-running": "running",
    "d-held": "held",
    "e-failed": "failed",
    "f-unreachable": "unreachable",
    "g-solo": "up_to_date",
}


def test_every_cluster_gets_its_fleet_state(client, as_role, fleet):
    as_role("viewer")
    response = client.get("/")
    assert names(response) == sorted(EXPECTED_STATES)
    assert {name: state_of(response, name) for name in EXPECTED_STATES} == EXPECTED_STATES


@pytest.mark.parametrize("state", ["running", "held", "failed", "unreachable", "upgradable", "up_to_date"])
def test_state_filter(client, as_role, fleet, state):
    as_role("viewer")
    assert names(client.get("/", {"state": state})) == sorted(n for n, s in EXPECTED_STATES.items() if s == state)


def test_search_by_name_and_by_build_in_either_spelling(client, as_role, fleet):
    as_role("viewer")
    assert names(client.get("/", {"q": "HELD"})) == ["d-held"]
    build = OB_4_2_1_1_20231101
    assert names(client.get("/", {"q": build.label})) == ["b-current"]
    assert names(client.get("/", {"q": build.build_version})) == ["b-current"]
    assert names(client.get("/", {"q": "no-such-thing"})) == []
    assert "No cluster matches these filters" in client.get("/", {"q": "no-such-thing"}).content.decode()


def test_edition_filter_combines_with_state_and_search(client, as_role, fleet):
    as_role("viewer")
    assert names(client.get("/", {"edition": "standalone"})) == ["g-solo"]
    assert names(client.get("/", {"edition": "community", "state": "up_to_date"})) == ["b-current"]
    assert names(client.get("/", {"edition": "community", "q": "e", "state": "failed"})) == ["e-failed"]


def test_label_filter(client, as_role, fleet):
    for name, env in (("a-upgradable", "prod"), ("b-current", "prod"), ("c-running", "staging")):
        ClusterLabel.objects.create(cluster=Cluster.objects.get(name=name), key="env", value=env)
    as_role("viewer")
    assert names(client.get("/", {"label": "env=prod"})) == ["a-upgradable", "b-current"]
    assert names(client.get("/", {"label": "env=prod", "state": "upgradable"})) == ["a-upgradable"]
    assert names(client.get("/", {"label": "env"})) == ["a-upgradable", "b-current", "c-running"]
    assert names(client.get("/", {"label": "env!=prod,env"})) == ["c-running"]
    response = client.get("/", {"label": "env=bad value!"})
    assert response.status_code == 200 and "Ignored:" in response.content.decode()
    assert names(response) == sorted(EXPECTED_STATES)


def test_sorting_by_each_column_both_ways(client, as_role, fleet):
    as_role("viewer")
    assert names(client.get("/", {"sort": "-name"})) == sorted(EXPECTED_STATES, reverse=True)
    by_state = names(client.get("/", {"sort": "state"}))
    order = ["running", "held", "failed", "unreachable", "upgradable", "up_to_date"]
    assert [EXPECTED_STATES[n] for n in by_state] == sorted(EXPECTED_STATES.values(), key=order.index)
    assert by_state[-2:] == ["b-current", "g-solo"]  # ties by name
    # Build: the lowest build a cluster runs, in version order (4.2.1.0 before 4.2.1.1, whatever the text says).
    assert names(client.get("/", {"sort": "-build"}))[0] == "b-current"
    assert names(client.get("/", {"sort": "build"}))[-1] == "b-current"
    # Last run: the newest first when descending; clusters never run come last either way.
    newest = names(client.get("/", {"sort": "-last_run"}))
    assert newest[:3] == ["e-failed", "d-held", "c-running"]
    assert set(newest[3:]) == {"a-upgradable", "b-current", "f-unreachable", "g-solo"}
    assert names(client.get("/", {"sort": "last_run"}))[:3] == ["c-running", "d-held", "e-failed"]


def test_header_links_toggle_direction_and_keep_filters(client, as_role, fleet):
    as_role("viewer")
    html = client.get("/", {"state": "up_to_date", "sort": "name", "page": "1"}).content.decode()
    assert 'aria-sort="ascending"' in html
    assert 'href="?state=up_to_date&amp;sort=-name"' in html  # the current column flips, the page is dropped
    assert 'href="?state=up_to_date&amp;sort=build"' in html
    html = client.get("/", {"state": "up_to_date", "sort": "-name"}).content.decode()
    assert 'aria-sort="descending"' in html and 'href="?state=up_to_date&amp;sort=name"' in html


def test_pagination_keeps_filters_and_sort(client, as_role, fleet, monkeypatch):
    monkeypatch.setattr("dashboard.pages.views_clusters.PAGE_SIZE", 2)
    as_role("viewer")
    first = client.get("/", {"edition": "community", "sort": "-name"})
    assert names(first) == ["f-unreachable", "e-failed"]
    html = first.content.decode()
    assert "Clusters 1–2 of 6" in html and "page 1 of 3" in html
    assert 'href="?edition=community&amp;sort=-name&amp;page=2"' in html
    assert names(client.get("/", {"edition": "community", "sort": "-name", "page": "3"})) == [
        "b-current",
        "a-upgradable",
    ]


@pytest.mark.parametrize("page", ["99", "0", "-1", "abc", ""])
def test_a_page_out_of_range_or_not_a_number_is_no_error(client, as_role, fleet, monkeypatch, page):
    monkeypatch.setattr("dashboard.pages.views_clusters.PAGE_SIZE", 3)
    as_role("viewer")
    response = client.get("/", {"page": page})
    assert response.status_code == 200
    expected = ["g-solo"] if page in ("99", "-1", "0") else ["a-upgradable", "b-current", "c-running"]
    if page in ("0", "-1"):
        expected = ["g-solo"]  # Django's get_page: any number out of range is the last page
    assert names(response) == expected


@pytest.mark.parametrize(
    "params",
    [
        {"state": "exploded"},
        {"edition": "enterprise"},
        {"sort": "password"},
        {"q": "x" * 500},
        {"label": "not a label!"},
        {"state": ["running", "exploded"]},  # the last of repeated values counts
        {"format": "xml"},
    ],
)
def test_bad_parameters_are_ignored_with_a_word(client, as_role, fleet, params):
    as_role("viewer")
    response = client.get("/", params)
    assert response.status_code == 200
    listed = names(response)
    assert listed, params
    if "format" not in params:
        assert "Ignored:" in response.content.decode()


def test_csv_of_the_fleet_versions_honours_the_filters(client, as_role, fleet):
    as_role("viewer")
    response = client.get("/", {"edition": "community", "state": "up_to_date", "format": "csv"})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert re.fullmatch(r'attachment; filename="fleet-versions-\d{8}-\d{6}\.csv"', response["Content-Disposition"])
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == [
        "cluster", "edition", "build", "servers", "zones", "state", "last_run", "last_run_state", "last_run_at",
    ]  # fmt: skip
    assert rows[1:] == [["b-current", "community", OB_4_2_1_1_20231101.label, "3", "3", "up_to_date", "", "", ""]]


def test_csv_of_every_cluster_with_its_last_run(client, as_role, fleet):
    as_role("viewer")
    response = client.get("/", {"format": "csv", "sort": "-name"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [row[0] for row in rows[1:]] == sorted(EXPECTED_STATES, reverse=True)
    failed = next(row for row in rows if row[0] == "e-failed")
    dag = Dag.objects.get(cluster__name="e-failed")
    assert failed[5:8] == ["failed", dag.generic_id, "FAILED"] and failed[8].startswith(str(dag.created_at.year))


def test_counters_link_to_the_filtered_fleet(client, as_role, fleet):
    as_role("viewer")
    html = client.get("/counters/").content.decode()
    running = re.search(r'href="([^"]+)"[^>]*>\s*<span aria-hidden="true">[^<]*</span> <span class="counter-value" '
                        r'data-counter="running">(\d+)', html)  # fmt: skip
    failed = re.search(r'href="([^"]+)"[^>]*>\s*<span aria-hidden="true">[^<]*</span> <span class="counter-value" '
                       r'data-counter="failed">(\d+)', html)  # fmt: skip
    assert running.group(1) == "/?state=running" and failed.group(1) == "/?state=held"
    assert len(names(client.get(running.group(1)))) == int(running.group(2)) == 1
    assert names(client.get(failed.group(1))) == ["d-held"] and failed.group(2) == "1"


def test_running_upgrade_shows_progress_and_says_when_there_is_no_estimate(client, as_role, fleet):
    as_role("viewer")
    html = client.get("/", {"state": "running"}).content.decode()
    dag = Dag.objects.get(cluster__name="c-running")
    assert f'data-progress-run="{dag.pk}"' in html
    assert f'<progress max="{dag.max_stage}" value="0"' in html and f"0/{dag.max_stage} stages" in html
    assert "no estimate yet" in html


def test_filter_form_is_labelled_for_keyboard_and_screen_readers(client, as_role, fleet):
    as_role("viewer")
    html = client.get("/").content.decode()
    for field in ("q", "edition", "state", "label", "sort"):
        assert f'<label for="id_{field}">' in html and f'id="id_{field}"' in html
    assert '<button type="submit" class="btn btn-primary">Apply</button>' in html
