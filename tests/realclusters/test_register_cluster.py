"""Registering a real cluster by its obshell agents (`add_cluster --backend obshell`), refreshing it, its password
and its pinned keys, against the fake obshell cluster."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from tests.support.builds import OB_4_2_1_0_20230928 as START
from tests.support.fake_agent import FakeCluster
from upgrades.audit import Actor
from upgrades.models import AuditEntry, Cluster
from upgrades.services.real_clusters import agent_key_confirm, cluster_refresh, refresh_real_clusters

pytestmark = pytest.mark.django_db

START_BUILD = f"{START.version}-{START.build_number}"
PASSWORD_ENV = "OBDASH_TEST_ROOT_PASSWORD"


@pytest.fixture
def fake():
    with FakeCluster(
        build=START_BUILD, agent_version="4.4.2.0-100000012026041611", zones={"z1": 2, "z2": 2, "z3": 2}
    ) as cluster:
        yield cluster


def register(fake_cluster, name="prod1", *extra, password=None, addresses=None, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, fake_cluster.password if password is None else password)
    out = io.StringIO()
    agents = []
    for address in addresses or fake_cluster.addresses[:1]:
        agents += ["--agent", address]
    call_command(
        "add_cluster", name, "--backend", "obshell", *agents, "--password-env", PASSWORD_ENV, *extra, stdout=out
    )
    return out.getvalue()


def test_register_imports_topology_and_pins_the_key(fake, monkeypatch):
    out = register(fake, monkeypatch=monkeypatch)
    cluster = Cluster.objects.get(name="prod1")
    assert cluster.backend == "obshell" and cluster.edition == "community"  # from /obcluster/info
    assert list(cluster.zones.values_list("name", flat=True)) == ["z1", "z2", "z3"]
    assert cluster.servers.count() == 6
    assert set(cluster.servers.values_list("build_version", flat=True)) == {START_BUILD.replace("-", "_")}
    assert set(cluster.servers.values_list("agent_version", flat=True)) == {"4.4.2.0-100000012026041611"}
    assert cluster.agent_public_key == {fake.addresses[0]: fake.agents[0].public_key_b64}
    assert fake.password not in cluster.ob_password_encrypted
    assert "6 servers" in out and "z1, z2, z3" in out
    entry = AuditEntry.objects.get(action=AuditEntry.Action.CLUSTER_CREATE)
    assert fake.password not in json.dumps(entry.detail) + entry.reason


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("wrong-password", "the agent rejected the root@sys password"),
        ("unreachable", "no obshell agent answered"),
        ("single", "is 'SINGLE', not a cluster agent"),
    ],
)
def test_refusals_are_one_line_and_save_nothing(setup, message, monkeypatch):
    identity = "SINGLE" if setup == "single" else "CLUSTER AGENT"
    with FakeCluster(build=START_BUILD, identity=identity) as cluster:
        addresses = None
        if setup == "unreachable":
            cluster.agents[0].stop()
            addresses = [cluster.addresses[0]]
        with pytest.raises(CommandError) as refused:
            register(
                cluster,
                password="nope" if setup == "wrong-password" else None,
                addresses=addresses,
                monkeypatch=monkeypatch,
            )
    assert message in str(refused.value) and "\n" not in str(refused.value)
    assert "nope" not in str(refused.value)
    assert not Cluster.objects.exists()


def test_old_agents_need_the_edition_and_extra_addresses_are_dialled(monkeypatch):
    with FakeCluster(build=START_BUILD, agent_version="4.2.5.0-100000012024112611", key_bits=512) as cluster:
        cluster.agents[0].stop()
        with pytest.raises(CommandError, match="give --edition"):
            register(cluster, addresses=cluster.addresses, monkeypatch=monkeypatch)
        register(cluster, "old", "--edition", "business", addresses=cluster.addresses, monkeypatch=monkeypatch)
    registered = Cluster.objects.get(name="old")
    assert f"{registered.agent_host}:{registered.agent_port}" == cluster.addresses[1]
    assert registered.agent_addresses == cluster.addresses


def test_refresh_tracks_builds_unreachability_and_rejected_credentials(fake, monkeypatch):
    register(fake, monkeypatch=monkeypatch)
    cluster = Cluster.objects.get(name="prod1")
    fake.agents[0].build = "4.3.0.1-101000062023110109"
    assert "4.3.0.1" in cluster_refresh(cluster=cluster)
    server = cluster.servers.get(ip=fake.agents[0].ip, agent_port=fake.agents[0].port)
    assert server.build_version == "4.3.0.1_101000062023110109"
    fake.agents[0].stop()
    assert "unreachable since" in refresh_real_clusters()["prod1"]
    cluster.refresh_from_db()
    first_seen = cluster.unreachable_since
    assert first_seen is not None
    cluster_refresh(cluster=cluster)
    cluster.refresh_from_db()
    assert cluster.unreachable_since == first_seen  # "since", not "last seen"
    fake.agents[0].start()
    cluster_refresh(cluster=cluster)
    cluster.refresh_from_db()
    assert cluster.unreachable_since is None
    fake.password = "rotated"
    assert "credentials rejected" in cluster_refresh(cluster=cluster)
    requests_before = len(fake.agents[0].requests)
    assert "not contacted" in cluster_refresh(cluster=cluster)
    assert len(fake.agents[0].requests) == requests_before  # stopped at once: no more root@sys logins
    monkeypatch.setenv("NEW_PW", "rotated")
    call_command("set_cluster_password", "prod1", "--password-env", "NEW_PW", stdout=io.StringIO())
    cluster.refresh_from_db()
    assert cluster.contact_problem == ""
    assert AuditEntry.objects.filter(action=AuditEntry.Action.CLUSTER_PASSWORD_SET).count() == 1


def test_changed_key_stops_traffic_until_an_admin_confirms(fake, monkeypatch):
    register(fake, monkeypatch=monkeypatch)
    cluster = Cluster.objects.get(name="prod1")
    fake.agents[0].rekey()
    assert "public key" in cluster_refresh(cluster=cluster)
    cluster.refresh_from_db()
    assert cluster.contact_problem == "public key changed"
    assert cluster.agent_key_change["published"] == fake.agents[0].public_key_b64
    agent_key_confirm(cluster=cluster, actor=Actor.system("admin test"), reason="checked with the host owner")
    cluster.refresh_from_db()
    assert cluster.agent_public_key[fake.addresses[0]] == fake.agents[0].public_key_b64
    assert "servers" in cluster_refresh(cluster=cluster)


def test_refresh_shows_other_maintenance_adopts_upgrades_and_reads_health(fake, monkeypatch):
    register(fake, addresses=fake.addresses, monkeypatch=monkeypatch)
    cluster = Cluster.objects.get(name="prod1")
    fake.hang.update({"Check the python environment", "Create upgrade dir"})
    scale_out = fake.create_dag(
        "Scale out agent", ["Create upgrade dir"], maintenance=True, target={}, agent_for_serial=fake.agents[0]
    )
    fake.agents[5].observer_up = False
    cluster_refresh(cluster=cluster)
    cluster.refresh_from_db()
    holder = cluster.agent_maintenance
    assert (holder["id"], holder["name"], holder["state"] in ("READY", "RUNNING")) == (
        f"1{scale_out.row}",
        "Scale out agent",
        True,
    )
    assert not cluster.dags.exists()  # shown as the holder, never mirrored
    down = cluster.servers.get(agent_port=fake.agents[5].port)
    assert down.process_running is False and cluster.servers.filter(process_running=True).count() == 5
    scale_out.state, scale_out.holds_lock = "SUCCEED", False
    upgrade = fake.create_dag(
        "OB rolling upgrade 4.3.0.1-101000062023110109.el7",
        ["Check the python environment"],
        maintenance=True,
        target={},
        agent_for_serial=fake.agents[0],
    )
    cluster_refresh(cluster=cluster)
    cluster.refresh_from_db()
    assert cluster.agent_maintenance == {}
    adopted = cluster.dags.get()
    assert adopted.remote_dag_id == f"1{upgrade.row}" and adopted.started_outside
