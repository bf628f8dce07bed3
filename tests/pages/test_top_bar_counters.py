"""The top bar counts runs in progress and failed runs still holding their cluster, on every page."""

import pytest

from tests.support.factories import make_cluster
from upgrades.audit import Actor
from upgrades.models import Dag
from upgrades.models.dag import State
from upgrades.services.dags import upgrade_start

pytestmark = pytest.mark.django_db


def start(cluster, target):
    return upgrade_start(
        cluster=cluster, version="4.2.1.1", release=target.release_distribution, mode="ROLLING", actor=Actor.system()
    )


def counters(html):
    def value(name):
        marker = f'data-counter="{name}">'
        start = html.index(marker) + len(marker)
        return int(html[start : html.index("<", start)])

    return value("running"), value("failed")


def test_counts_running_and_failed_holding_runs(client, as_role, target):
    running = start(make_cluster("a"), target)
    failed = start(make_cluster("b"), target)
    finished_failed = start(make_cluster("c"), target)
    succeeded = start(make_cluster("d"), target)
    Dag.objects.filter(pk=running.pk).update(state=State.RUNNING)
    Dag.objects.filter(pk=failed.pk).update(state=State.FAILED)
    Dag.objects.filter(pk=finished_failed.pk).update(state=State.FAILED, holds_lock=False, is_finished=True)
    Dag.objects.filter(pk=succeeded.pk).update(state=State.SUCCEED, holds_lock=False, is_finished=True)
    as_role("viewer")
    for url in ("/", "/runs/", "/packages/", "/audit/", "/clusters/a/"):
        assert counters(client.get(url).content.decode()) == (1, 1), url


def test_counters_fragment_for_live_refresh(client, as_role, cluster, target):
    start(cluster, target)
    as_role("viewer")
    html = client.get("/counters/").content.decode()
    assert html.startswith('<div data-live-region="counters">')
    assert counters(html) == (1, 0)
    assert 'href="/runs/?state=FAILED&amp;holding=1"' in html


def test_counters_fragment_needs_a_role(client):
    assert client.get("/counters/").status_code == 302
