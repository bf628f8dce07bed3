"""Migration 0013: simulated clusters made before tenants and min_observer_version were kept get a sys tenant and
every server's min_observer_version at the lowest version the cluster runs; real clusters are left to their agent."""

import pytest

from tests.support.migrations import migrate_to
from upgrades.models import Server, Tenant


@pytest.mark.django_db(transaction=True)
def test_the_backfill_gives_old_simulated_clusters_their_values():
    old = migrate_to("0012_verification")
    try:
        Cluster, Zone, OldServer = (old.get_model("upgrades", name) for name in ("Cluster", "Zone", "Server"))
        mixed = Cluster.objects.create(name="mixed", backend="simulated")
        real = Cluster.objects.create(name="real", backend="obshell")
        for subnet, cluster in enumerate((mixed, real), start=1):
            zone = Zone.objects.create(cluster=cluster, name="zone1", position=1)
            for host, build in ((11, "4.2.1.0_100000102023092807"), (12, "4.2.0.0_100000152023080109")):
                OldServer.objects.create(
                    cluster=cluster, zone=zone, ip=f"10.0.{subnet}.{host}", build_version=build, parameters={}
                )
        migrate_to()
        assert list(Tenant.objects.filter(cluster_id=mixed.pk).values_list("name", "compatible")) == [
            ("sys", "4.2.0.0")
        ]
        assert {s.parameters["min_observer_version"] for s in Server.objects.filter(cluster_id=mixed.pk)} == {"4.2.0.0"}
        assert not Tenant.objects.filter(cluster_id=real.pk).exists()
        assert all(s.parameters == {} for s in Server.objects.filter(cluster_id=real.pk))
    finally:
        migrate_to()
