"""/clusters/<name>/: zones with status, servers with address, build and status; recent runs; maintenance."""

import pytest

from tests.support.builds import OB_4_2_1_1_20231101
from tests.support.dags import start_upgrade
from upgrades.audit import Actor
from upgrades.models import Zone

pytestmark = pytest.mark.django_db


def test_topology(client, as_role, cluster):
    Zone.objects.filter(cluster=cluster, name="zone2").update(status=Zone.Status.INACTIVE)
    as_role("viewer")
    html = client.get(f"/clusters/{cluster.name}/").content.decode()
    for server in cluster.servers.all():
        assert f"{server.ip}:{server.rpc_port}" in html
    assert html.count("4.2.1.0-100000102023092807") >= 3
    assert "badge-inactive" in html and "zone2" in html
    assert "No runs yet" in html


def test_recent_runs_and_maintenance_banner(client, as_role, cluster, target):
    dag = start_upgrade(cluster, OB_4_2_1_1_20231101, actor=Actor.system("token ci"), reason="nightly")
    as_role("viewer")
    html = client.get(f"/clusters/{cluster.name}/").content.decode()
    assert "Under maintenance." in html and f'href="/runs/{dag.pk}/"' in html
    assert dag.generic_id in html and "token ci" in html and "nightly" in html
