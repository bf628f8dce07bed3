"""The top bar counts runs in progress and failed runs still holding their cluster, on every page."""

import pytest

from tests.support.builds import OB_4_2_1_1_20231101
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from upgrades.audit import Actor
from upgrades.models import Dag
from upgrades.models.dag import State

pytestmark = pytest.mark.django_db


def counters(html):
    def value(name):
        marker = f'data-counter="{name}">'
        start = html.index(marker) + len(marker)
        return int(html[start : html.index("<", start)])

    return value("running"), value("failed")


def test_counts_running_and_failed_holding_runs(client, as_role, target):
    running = start_upgrade(make_cluster("a"), OB_4_2_1_1_20231101, actor=Actor.system())
    failed = start_upgrade(make_cluster("b"), OB_4_2_1_1_20231101, actor=Actor.system())
    finished_failed = start_upgrade(make_cluster("c"), OB_4_2_1_1_20231101, actor=Actor.system())
    succeeded = start_upgrade(make_cluster("d"), OB_4_2_1_1_20231101, actor=Actor.system())
    Dag.objects.filter(pk=running.pk).update(state=State.RUNNING)
    Dag.objects.filter(pk=failed.pk).update(state=State.FAILED)
    Dag.objects.filter(pk=finished_failed.pk).update(state=State.FAILED, holds_lock=False, is_finished=True)
    Dag.objects.filter(pk=succeeded.pk).update(state=State.SUCCEED, holds_lock=False, is_finished=True)
    as_role("viewer")
    for url in ("/", "/runs/", "/packages/", "/audit/", "/clusters/a/"):
        assert counters(client.get(url).content.decode()) == (1, 1), url


def test_counters_fragment_for_live_refresh(client, as_role, cluster, target):
    start_upgrade(cluster, OB_4_2_1_1_20231101, actor=Actor.system())
    as_role("viewer")
    html = client.get("/counters/").content.decode()
    assert html.startswith('<div data-live-region="counters">')
    assert counters(html) == (1, 0)
    assert 'href="/?state=running"' in html and 'href="/?state=held"' in html


def test_counters_fragment_needs_a_role(client):
    assert client.get("/counters/").status_code == 302
