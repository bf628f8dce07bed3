"""/: every cluster with edition, backend, zones×servers, builds (mixed ones visible), maintenance, last run."""

import pytest

from tests.support.builds import OB_4_2_1_1_20231101
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from upgrades.audit import Actor
from upgrades.models import Dag, Server
from upgrades.models.dag import State

pytestmark = pytest.mark.django_db


def row(html, name):
    start = html.index(f'<tr data-cluster="{name}"')
    return html[start : html.index("</tr>", start)]


def test_empty_state_tells_what_to_do(client, as_role):
    as_role("viewer")
    html = client.get("/").content.decode()
    assert "No clusters yet" in html and "add_cluster" in html and "seed_demo" in html


def test_rows_show_topology_builds_and_backend(client, as_role):
    make_cluster("alpha", zones=3, servers_per_zone=2)
    make_cluster("solo", edition="standalone", zones=1)
    as_role("viewer")
    html = client.get("/").content.decode()
    alpha = row(html, "alpha")
    assert "community" in alpha and "simulated" in alpha
    assert "3 zones · 6 servers" in alpha
    assert "4.2.1.0-100000102023092807" in alpha and "mixed builds" not in alpha
    assert "never upgraded" in alpha
    assert "1 zone · 1 server" in row(html, "solo") and "standalone" in row(html, "solo")


def test_mixed_builds_mid_upgrade_and_maintenance_link(client, as_role, cluster, target):
    dag = start_upgrade(cluster, OB_4_2_1_1_20231101, actor=Actor.system())
    Dag.objects.filter(pk=dag.pk).update(state=State.RUNNING)
    Server.objects.filter(pk=cluster.servers.first().pk).update(build_version="4.2.1.1_101000012023110109")
    as_role("viewer")
    alpha = row(client.get("/").content.decode(), "alpha")
    assert "mixed builds" in alpha
    assert "4.2.1.1-101000012023110109 <span" in alpha and "(1 server)" in alpha and "(2 servers)" in alpha
    assert f'href="/runs/{dag.pk}/"' in alpha and "Under maintenance" in alpha
    assert "RUNNING" in alpha


def test_last_run_result(client, as_role, cluster, target):
    dag = start_upgrade(cluster, OB_4_2_1_1_20231101, actor=Actor.system())
    Dag.objects.filter(pk=dag.pk).update(state=State.SUCCEED, holds_lock=False, is_finished=True)
    as_role("viewer")
    alpha = row(client.get("/").content.decode(), "alpha")
    assert "badge-succeed" in alpha and "Under maintenance" not in alpha


def test_inactive_servers_are_flagged(client, as_role, cluster):
    Server.objects.filter(pk=cluster.servers.first().pk).update(status=Server.Status.INACTIVE)
    as_role("viewer")
    assert "1 server inactive" in row(client.get("/").content.decode(), "alpha")
