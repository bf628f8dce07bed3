import pytest
from django.core.management import CommandError, call_command

from upgrades.models import Cluster


@pytest.mark.django_db
def test_add_cluster_creates_zones_and_servers_on_one_build(capsys):
    call_command(
        "add_cluster",
        "c1",
        "--edition",
        "community",
        "--zones",
        "3",
        "--servers-per-zone",
        "2",
        "--version",
        "4.2.1.0",
        "--build",
        "100000102023092807",
    )
    cluster = Cluster.objects.get(name="c1")
    assert [z.name for z in cluster.zones.all()] == ["zone1", "zone2", "zone3"]
    servers = list(cluster.servers.all())
    assert len(servers) == 6
    assert {s.build_version for s in servers} == {"4.2.1.0_100000102023092807"}
    assert {s.distribution for s in servers} == {"el7"}
    assert len({s.ip for s in servers}) == 6
    assert "c1: community, 3 zones, 6 servers" in capsys.readouterr().out


@pytest.mark.django_db
def test_add_cluster_refuses_a_duplicate_name_and_bad_version():
    call_command(
        "add_cluster",
        "c1",
        "--edition",
        "business",
        "--zones",
        "1",
        "--servers-per-zone",
        "1",
        "--version",
        "4.2.1.0",
        "--build",
        "1",
    )
    with pytest.raises(CommandError, match="already exists"):
        call_command(
            "add_cluster",
            "c1",
            "--edition",
            "business",
            "--zones",
            "1",
            "--servers-per-zone",
            "1",
            "--version",
            "4.2.1.0",
            "--build",
            "1",
        )
    with pytest.raises(CommandError, match="A.B.C.D"):
        call_command(
            "add_cluster",
            "c2",
            "--edition",
            "business",
            "--zones",
            "1",
            "--servers-per-zone",
            "1",
            "--version",
            "4.2",
            "--build",
            "1",
        )
    assert Cluster.objects.count() == 1
