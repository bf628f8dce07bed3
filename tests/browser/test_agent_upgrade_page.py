"""Upgrade obshell in real Chromium: the cluster page shows each agent's obshell, the obshell form previews the
9-stage plan, Upgrade obshell asks once more in words, and the run it starts finishes with every agent on the
new obshell (the topology says so)."""

import re

import pytest

from tests.browser.helpers import closing_db_connections, screenshot
from tests.support.builds import OBSHELL_4_2_2_0_20240108 as OBSHELL
from tests.support.factories import make_cluster, make_user
from tests.support.packages import add_obshell_package
from upgrades.models import AuditEntry, Dag
from upgrades.models.dag import State

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1366, "height": 900}
PASSWORD = "correct-horse-battery"


@pytest.fixture
def working_server(live_server_factory):
    return live_server_factory(DEBUG=0, EMBEDDED_WORKER=1, EMBEDDED_WORKER_THREADS=2, SIMULATION_SPEED=20)


@closing_db_connections
async def test_upgrade_obshell_from_the_cluster_page(browser, working_server, transactional_db):
    from tests.support.waiting import wait_until

    server = working_server
    make_cluster("alpha", zones=3)
    add_obshell_package(OBSHELL)
    operator = make_user("operator", username="olga", password=PASSWORD)
    context = await browser.new_context(viewport=LAPTOP)
    page = await context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(f"{server.url}/login/")
    await page.fill("#id_username", "olga")
    await page.fill("#id_password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{server.url}/")

    await page.goto(f"{server.url}/clusters/alpha/")
    versions = await page.locator("[data-agent-version]").all_inner_texts()
    assert versions == ["obshell 4.2.1.0-100000102023092807"] * 3
    await page.fill("#id_obshell-reason", "CHG-77: obshell fixes")
    await page.click("[data-agent-preview]")
    await page.wait_for_selector("#plan")
    assert f"Plan: Upgrade obshell {OBSHELL.version}-{OBSHELL.release}" in await page.locator("#plan h2").inner_text()
    assert await page.locator(".nodes li").count() == 9
    assert await page.locator(".checks .check-ok").count() == await page.locator(".checks li").count() == 7
    button = page.locator("[data-upgrade-button]")
    assert await button.inner_text() == "Upgrade obshell" and await button.get_attribute("form") == "agent-upgrade-form"
    await screenshot(page, "pages-obshell-preview.png")

    # The confirmation: dismissing it starts nothing; accepting it starts the run.
    questions = []

    async def answer(dialog, accept):
        questions.append(dialog.message)
        await (dialog.accept() if accept else dialog.dismiss())

    page.once("dialog", lambda dialog: answer(dialog, False))
    await button.click()
    assert "Each agent restarts; OceanBase keeps running." in questions[0]
    assert Dag.objects.count() == 0
    page.once("dialog", lambda dialog: answer(dialog, True))
    await button.click()
    await page.wait_for_url(re.compile(rf"{re.escape(server.url)}/runs/\d+/$"))
    dag = Dag.objects.get()
    assert dag.kind == Dag.Kind.AGENT_UPGRADE and dag.started_by == operator
    assert AuditEntry.objects.filter(dag=dag, action="agent_upgrade.start", outcome="ok").exists()

    wait_until(lambda: Dag.objects.get(pk=dag.pk).state == State.SUCCEED, timeout=60, what="the obshell run")
    await page.reload()
    assert await page.locator("[data-role=mode]").inner_text() == "obshell upgrade"
    await screenshot(page, "pages-obshell-run.png")
    await page.goto(f"{server.url}/clusters/alpha/")
    versions = await page.locator("[data-agent-version]").all_inner_texts()
    assert versions == [f"obshell {OBSHELL.label}"] * 3
    await screenshot(page, "pages-obshell-cluster-after.png")
    assert errors == []
