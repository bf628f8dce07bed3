"""A production cluster's upgrade in real Chromium: the operator who clicks Upgrade gets a pending request (the
cluster page shows it with the cluster's labels and maintenance windows) and cannot approve it; a second
person, an admin in another browser, approves it by keyboard and lands on the run page of the ordinary run."""

import re

import pytest

from tests.browser.helpers import closing_db_connections, screenshot, signed_in_page
from tests.support.builds import OB_4_2_1_1_20231101
from tests.support.factories import make_cluster, make_user
from tests.support.packages import stock_packages
from upgrades.audit import Actor
from upgrades.models import AuditEntry, Dag, UpgradeRequest
from upgrades.services.labels import label_set
from upgrades.services.windows import window_add

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1366, "height": 768}


@pytest.fixture
def server(live_server_factory):
    return live_server_factory(DEBUG=0)


@pytest.fixture
def production(transactional_db):
    stock_packages(OB_4_2_1_1_20231101)
    cluster = make_cluster("orders-prod", zones=3)
    system = Actor.system("test")
    label_set(cluster=cluster, key="env", value="prod", actor=system)
    label_set(cluster=cluster, key="region", value="hangzhou", actor=system)
    window_add(cluster=cluster, window="Tue and Thu 01:00-05:00 Asia/Shanghai", name="orders nights", actor=system)
    window_add(label="env=prod", window="daily 22:00-02:00 UTC", actor=system)
    return cluster


@closing_db_connections
async def test_a_second_person_approves_a_production_upgrade(browser, server, production):
    olga = make_user("operator", username="olga")
    adam = make_user("admin", username="adam")
    cluster_url = f"{server.url}/clusters/{production.name}/"

    page, errors = await signed_in_page(browser, server, olga, viewport=LAPTOP)
    await page.goto(cluster_url)
    await page.fill("#id_reason", "CHG-3001: orders to 4.2.1.1")
    await page.click("button[value=preview]")
    await page.wait_for_selector("[data-upgrade-button]")
    assert "is production (env=prod)" in await page.locator("[data-needs-approval]").inner_text()
    await page.click("[data-upgrade-button]")
    await page.wait_for_url(f"{cluster_url}#requests")
    assert Dag.objects.count() == 0
    request = UpgradeRequest.objects.get()
    assert request.requested_by == olga and request.state == "pending"
    pending = page.locator('[data-request-state="pending"]')
    assert "Waiting for approval" in await pending.inner_text()
    assert "another operator or an admin must approve" in await page.locator("[data-own-request]").inner_text()
    assert await page.locator("[data-approve]").count() == 0
    assert await page.locator(".head-chips .label-chip").count() == 2
    assert await page.locator(".window-item").count() == 2
    await screenshot(page, "cluster-labels-windows-request.png")
    assert errors == []

    approver, approver_errors = await signed_in_page(browser, server, adam, viewport=LAPTOP)
    await approver.goto(cluster_url)
    assert await approver.locator("[data-label-form]").count() == 1
    assert await approver.locator("[data-window-form]").count() == 1
    await screenshot(approver, "cluster-approver-view.png")
    await approver.focus("#decision-reason")
    await approver.keyboard.type("change ticket checked")
    await approver.keyboard.press("Tab")
    assert await approver.evaluate("document.activeElement.hasAttribute('data-approve')")
    await approver.keyboard.press("Enter")
    await approver.wait_for_url(re.compile(rf"{re.escape(server.url)}/runs/\d+/$"))
    dag = Dag.objects.get()
    assert approver.url == f"{server.url}/runs/{dag.pk}/"
    assert dag.started_by == adam and "asked by olga, approved by adam" in dag.reason
    request.refresh_from_db()
    assert request.state == "started" and request.dag == dag
    assert AuditEntry.objects.filter(action="upgrade_request.approve", actor_user=adam, outcome="ok").exists()
    assert AuditEntry.objects.filter(action="upgrade.start", dag=dag, actor_user=adam).exists()
    await screenshot(approver, "approved-run-landing.png")
    assert approver_errors == []
