"""The pages for real clusters: /register-cluster/ with its "Test connection" step, the cluster page's agent panel
(unreachable, credentials rejected, a changed key to confirm, refresh, a new password), the fleet's badges."""

import pytest
from django.test import Client

from tests.support.builds import OB_4_2_1_0_20230928 as START
from tests.support.factories import make_user
from tests.support.fake_agent import FakeCluster
from upgrades.models import AuditEntry, Cluster
from upgrades.services.real_clusters import cluster_refresh, cluster_register_obshell

pytestmark = pytest.mark.django_db

START_BUILD = f"{START.version}-{START.build_number}"


def signed_in(role):
    client = Client()
    client.force_login(make_user(role))
    return client


@pytest.fixture
def fake():
    with FakeCluster(build=START_BUILD, zones={"z1": 1, "z2": 1, "z3": 1}) as cluster:
        yield cluster


def form(fake, action, **over):
    return {"name": "prod1", "agents": "\n".join(fake.addresses), "password": fake.password, "action": action, **over}


def test_register_page_tests_then_registers(fake):
    admin = signed_in("admin")
    assert admin.get("/register-cluster/").status_code == 200
    tested = admin.post("/register-cluster/", form(fake, "test"))
    page = tested.content.decode()
    assert tested.status_code == 200 and "the password was accepted" in page
    assert page.count("<tr><td>z") == 3 and fake.password not in page
    assert not Cluster.objects.exists()
    registered = admin.post("/register-cluster/", form(fake, "register"))
    assert registered.status_code == 302 and registered["Location"] == "/clusters/prod1/"
    assert Cluster.objects.get(name="prod1").servers.count() == 3


def test_register_refusals_are_one_line_and_only_admins_register(fake):
    admin = signed_in("admin")
    wrong = admin.post("/register-cluster/", form(fake, "register", password="nope"))
    assert wrong.status_code == 400 and "the agent rejected the root@sys password" in wrong.content.decode()
    assert "nope" not in wrong.content.decode() and not Cluster.objects.exists()
    assert signed_in("operator").get("/register-cluster/").status_code == 403


def test_cluster_page_agent_panel(fake):
    cluster = cluster_register_obshell(name="prod1", addresses=fake.addresses[:1], password=fake.password)
    viewer, operator, admin = signed_in("viewer"), signed_in("operator"), signed_in("admin")
    assert "Refresh now" not in viewer.get("/clusters/prod1/").content.decode()
    fake.agents[0].stop()
    assert operator.post("/clusters/prod1/refresh/").status_code == 302
    assert "Unreachable</strong> since" in viewer.get("/clusters/prod1/").content.decode()
    assert "unreachable" in viewer.get("/").content.decode()
    fake.agents[0].start()
    fake.agents[0].rekey()
    cluster_refresh(cluster=cluster)
    page = admin.get("/clusters/prod1/").content.decode()
    assert "Contact stopped: public key changed" in page and "Trust the new key" in page
    assert operator.post("/clusters/prod1/agent-key/", {"reason": "x"}).status_code == 403
    admin.post("/clusters/prod1/agent-key/", {"reason": "agent reinstalled, ticket 42"})
    cluster.refresh_from_db()
    assert cluster.contact_problem == "" and cluster.agent_key_change == {}
    assert AuditEntry.objects.get(action="cluster.key_confirm").reason == "agent reinstalled, ticket 42"
    fake.password = "rotated"
    wrong = admin.post("/clusters/prod1/password/", {"password": "still-wrong"}, follow=True).content.decode()
    assert "rejected the root@sys password" in wrong and "Nothing was stored" in wrong
    admin.post("/clusters/prod1/password/", {"password": "rotated"})
    assert AuditEntry.objects.filter(action="cluster.password_set").count() == 1
