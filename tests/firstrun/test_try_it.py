"""The fleet page's "Try it" card on a fresh demo: three steps ticked from the database, dismissed per user."""

import pytest

from tests.support.builds import OB_4_3_0_1_20231101
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster, make_user
from tests.support.packages import stock_packages
from upgrades.audit import Actor
from upgrades.models import Dismissal
from upgrades.services.dag_operators import dag_operate
from upgrades.services.faults import fault_arm

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(db):
    return make_cluster("demo-hangzhou"), make_cluster("demo-shanghai", servers_per_zone=2)


def card(client):
    page = client.get("/").content.decode()
    if "data-try-it" not in page:
        return None
    return page[page.index("data-try-it") : page.index("</section>", page.index("data-try-it"))]


def test_a_fresh_demo_shows_the_three_steps(client, demo):
    client.force_login(make_user("admin"))
    shown = card(client)
    assert "Try it: a first upgrade in five minutes" in shown
    assert "Preview the upgrade of demo-hangzhou" in shown and 'href="/clusters/demo-hangzhou/#upgrade-h"' in shown
    assert "Upgrade it and watch" in shown
    assert "Then a fault drill on demo-shanghai" in shown and "Stop zone2" in shown
    assert 'href="/clusters/demo-shanghai/#faults"' in shown
    assert "· done" not in shown and "Needs the" not in shown


def test_no_card_without_the_demo_fleet(client, db):
    make_cluster("prod-1")
    client.force_login(make_user("admin"))
    assert card(client) is None


def test_roles_are_told_what_they_need(client, demo):
    client.force_login(make_user("viewer"))
    shown = card(client)
    assert shown.count("Needs the operator role: you are viewer.") == 2
    assert "Needs the admin role: you are viewer." in shown


def test_steps_are_ticked_from_what_happened(client, demo):
    hangzhou, shanghai = demo
    admin = make_user("admin")
    client.force_login(admin)
    stock_packages(OB_4_3_0_1_20231101)
    dag = start_upgrade(hangzhou, OB_4_3_0_1_20231101, actor=Actor.for_user(admin), reason="try it")
    shown = card(client)
    assert shown.count("· done") == 1 and f'href="/runs/{dag.pk}/"' in shown and f"Watch run {dag.pk}" in shown

    from upgrades.engine.runner import run_dag_to_end

    run_dag_to_end(dag.pk)
    assert card(client).count("· done") == 2
    fault_arm(cluster=shanghai, node_name="Stop zone2", actor=Actor.for_user(admin), reason="drill")
    drill = start_upgrade(shanghai, OB_4_3_0_1_20231101, actor=Actor.for_user(admin), reason="drill run")
    run_dag_to_end(drill.pk)
    dag_operate(dag=drill, operator="RETRY", actor=Actor.for_user(admin), reason="retry after the drill")
    shown = card(client)
    assert shown.count("· done") == 3 and "All three done" in shown


def test_dismissal_persists_for_that_user_only(client, demo):
    ada = make_user("admin")
    client.force_login(ada)
    response = client.post("/hints/try-it/dismiss/")
    assert response.status_code == 302 and response["Location"] == "/"
    assert card(client) is None
    client.logout()
    client.force_login(ada)
    assert card(client) is None, "kept across sessions"
    assert Dismissal.objects.filter(user=ada, key="try-it").count() == 1
    client.post("/hints/try-it/dismiss/")
    assert Dismissal.objects.filter(user=ada).count() == 1
    client.force_login(make_user("operator"))
    assert card(client) is not None


def test_dismissing_needs_a_post_a_known_hint_and_a_session(client, demo):
    assert client.post("/hints/try-it/dismiss/").status_code == 302  # to the login page
    assert not Dismissal.objects.exists()
    client.force_login(make_user("viewer"))
    assert client.get("/hints/try-it/dismiss/").status_code == 405
    assert client.post("/hints/nope/dismiss/").status_code == 404
