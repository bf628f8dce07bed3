"""Fault drills from the pages: arm (fail N times, hang, crash; a stage, optionally one server), list and disarm,
from the cluster page and the run page; admin only, audited with the reason, refused on real clusters."""

import pytest

from tests.support.builds import OB_4_2_1_1_20231101, OB_4_3_0_1_20231101
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster, make_user
from tests.support.packages import stock_packages
from upgrades.audit import Actor
from upgrades.models import AuditEntry, Cluster, Fault
from upgrades.services.faults import drill_stages, fault_arm

pytestmark = pytest.mark.django_db

ARMED_ONE = 'Armed <span class="count">(1)</span>'


@pytest.fixture
def cluster(db):
    return make_cluster("alpha", zones=3, servers_per_zone=2)


@pytest.fixture
def admin(client, db):
    user = make_user("admin", username="ada")
    client.force_login(user)
    return user


def arm(client, cluster, **fields):
    data = {"node": "Stop zone2", "kind": "fail", "times": "1", "reason": "drill: practise a retry", **fields}
    return client.post(f"/clusters/{cluster.name}/faults/", data, follow=True)


def test_the_cluster_page_offers_the_stages_and_servers_of_an_upgrade(client, admin, cluster):
    page = client.get("/clusters/alpha/").content.decode()
    assert 'id="faults"' in page and "Fault drills" in page
    assert '<option value="Stop zone2"' in page and 'value="Stop zone2" data-servers=' in page
    assert "Reinstall and restart observer" in page and "Minor freeze before stop server" in page
    assert page.count(" only</option>") == 6, "one choice per server"
    assert "No fault armed" in page
    assert 'src="/static/js/faults.js"' in page


def test_an_admin_arms_a_fault_and_sees_it_armed(client, admin, cluster):
    response = arm(client, cluster, times="2")
    page = response.content.decode()
    assert "Armed on alpha: Fail ×2 at “Stop zone2” on every server of the stage" in page
    fault = Fault.objects.get()
    assert response.redirect_chain[-1][0] == f"/clusters/alpha/#fault-{fault.pk}"
    assert (fault.node_name, fault.kind, fault.times_remaining, fault.server) == ("Stop zone2", "fail", 2, None)
    assert f'data-fault="{fault.pk}"' in page and ARMED_ONE in page
    entry = AuditEntry.objects.get(action="fault.inject")
    assert entry.outcome == "ok" and entry.actor_user == admin and entry.reason == "drill: practise a retry"
    assert entry.cluster == cluster and entry.source_address == "127.0.0.1"
    assert entry.detail == {"node": "Stop zone2", "server": "", "kind": "fail", "times": 2}


@pytest.mark.parametrize("kind", ["hang", "crash"])
def test_a_hang_or_a_crash_on_one_server(client, admin, cluster, kind):
    server = cluster.servers.filter(zone__name="zone2").last()
    page = arm(client, cluster, node="Reinstall and restart observer", kind=kind, server=str(server.pk)).content
    fault = Fault.objects.get()
    assert (fault.kind, fault.server) == (kind, server)
    assert f"on {server.ip}:{server.agent_port} only".encode() in page


def test_a_reason_is_required(client, admin, cluster):
    page = arm(client, cluster, reason="  ").content.decode()
    assert "Say why you arm this fault" in page
    assert not Fault.objects.exists()


def test_a_server_of_another_cluster_is_refused(client, admin, cluster):
    other = make_cluster("beta")
    page = arm(client, cluster, server=str(other.servers.first().pk)).content.decode()
    assert "Nothing was armed" in page and not Fault.objects.exists()


def test_operators_and_viewers_see_armed_faults_but_cannot_arm(client, cluster):
    fault_arm(cluster=cluster, node_name="Stop zone2", actor=Actor.system("test"), reason="setup")
    client.force_login(make_user("operator"))
    page = client.get("/clusters/alpha/").content.decode()
    assert ARMED_ONE in page and "Stop zone2" in page
    assert "needs the admin role" in page and "data-fault-form" not in page and "Disarm" not in page
    assert arm(client, cluster).status_code == 403
    fault = Fault.objects.get()
    assert client.post(f"/clusters/alpha/faults/{fault.pk}/disarm/").status_code == 403
    assert Fault.objects.count() == 1


def test_real_clusters_are_refused_with_a_clear_message_and_audited(client, admin, cluster):
    Cluster.objects.filter(pk=cluster.pk).update(backend="obshell")
    page = client.get("/clusters/alpha/").content.decode()
    assert "data-drills-refused" in page and "real cluster (obshell backend)" in page
    assert "data-fault-form" not in page
    response = arm(client, cluster)
    text = response.content.decode()
    assert "Nothing was armed: Fault drills run only on simulated clusters: alpha is a real cluster" in text
    assert not Fault.objects.exists()
    entry = AuditEntry.objects.get(action="fault.inject")
    assert entry.outcome == "refused" and entry.reason == "drill: practise a retry"
    assert entry.detail["errCode"] == "Fault.RealCluster"


def test_disarm_removes_it_and_is_audited_once(client, admin, cluster):
    arm(client, cluster)
    fault = Fault.objects.get()
    response = client.post(f"/clusters/alpha/faults/{fault.pk}/disarm/", {"next": "/clusters/alpha/"}, follow=True)
    page = response.content.decode()
    assert "Disarmed on alpha: Fail ×1 at “Stop zone2” on every server of the stage." in page
    assert "No fault armed" in page and not Fault.objects.exists()
    entry = AuditEntry.objects.get(action="fault.disarm")
    assert entry.outcome == "ok" and entry.actor_user == admin and entry.detail["node"] == "Stop zone2"

    again = client.post(f"/clusters/alpha/faults/{fault.pk}/disarm/", follow=True).content.decode()
    assert "Nothing to disarm" in again and "it fired or was disarmed" in again
    assert AuditEntry.objects.filter(action="fault.disarm", outcome="refused").count() == 1


def test_the_run_page_offers_the_runs_own_stages_and_returns_there(client, admin, cluster):
    stock_packages(OB_4_3_0_1_20231101)
    dag = start_upgrade(cluster, OB_4_3_0_1_20231101, actor=Actor.for_user(admin), reason="run page drill")
    page = client.get(f"/runs/{dag.pk}/").content.decode()
    assert 'id="faults"' in page and "this run too" in page
    names = [stage.name for stage in drill_stages(cluster, dag.pk)]
    assert names == list(dict.fromkeys(dag.nodes.order_by("seq").values_list("name", flat=True)))
    response = arm(client, cluster, next=f"/runs/{dag.pk}/")
    fault = Fault.objects.get()
    assert response.redirect_chain[-1][0] == f"/runs/{dag.pk}/#fault-{fault.pk}"
    assert ARMED_ONE in response.content.decode()
    back = client.post(f"/clusters/alpha/faults/{fault.pk}/disarm/", {"next": f"/runs/{dag.pk}/"})
    assert back["Location"] == f"/runs/{dag.pk}/#faults"


def test_next_never_leaves_the_site(client, admin, cluster):
    response = arm(client, cluster, next="https://evil.example/")
    assert response.redirect_chain[-1][0].startswith("/clusters/alpha/#fault-")
    response = arm(client, cluster, next="//evil.example/x", reason="")
    assert response.redirect_chain[-1][0] == "/clusters/alpha/", "a refusal lands at the top, by its message"


def test_an_armed_failure_fires_on_the_next_run_and_is_used_up(client, admin, cluster):
    from upgrades.engine.runner import run_dag_to_end

    stock_packages(OB_4_3_0_1_20231101)
    arm(client, cluster)
    dag = start_upgrade(cluster, OB_4_3_0_1_20231101, actor=Actor.for_user(admin), reason="drill")
    run_dag_to_end(dag.pk)
    dag.refresh_from_db()
    assert dag.state == "FAILED"
    assert dag.nodes.get(state="FAILED").name == "Stop zone2"
    assert not Fault.objects.exists(), "fail ×1 is used up"


def test_the_fleet_list_and_the_plan_say_a_fault_is_armed(client, admin, cluster):
    make_cluster("beta")
    stock_packages(OB_4_2_1_1_20231101)
    assert "data-armed-faults" not in client.get("/").content.decode()
    arm(client, cluster, times="2")
    arm(client, cluster, node="Start zone3", kind="hang")
    fleet = client.get("/").content.decode()
    assert fleet.count("data-armed-faults") == 1 and "2 faults armed" in fleet
    assert 'href="/clusters/alpha/#faults"' in fleet

    page = client.post("/clusters/alpha/", {"mode": "ROLLING", "action": "preview", "package": _target_pk()})
    text = page.content.decode()
    assert "data-armed-note" in text
    assert "2 faults armed on alpha:</strong> Fail ×2 at “Stop zone2”, Hang ×1 at “Start zone3”" in text


def _target_pk():
    from upgrades.models import Package

    return Package.objects.get(name="oceanbase-ce").pk
