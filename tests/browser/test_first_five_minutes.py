"""The first five minutes in real Chromium against a daphne child process: the "Try it" card, a fault drill armed
from the cluster page (fail at "Stop zone2", upgrade, see it fail there, Retry with a reason, see it succeed), a
fault armed and disarmed from the run page, and the one-time sign-in link."""

import re

import pytest

from tests.browser.helpers import closing_db_connections, screenshot
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster, make_user
from tests.support.live_server import LiveServer
from tests.support.packages import stock_packages
from upgrades.audit import Actor
from upgrades.models import AuditEntry, Dag, Fault
from upgrades.services.faults import fault_arm

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1366, "height": 768}
PASSWORD = "correct-horse-battery"
DEADLINE_MS = 90_000


@pytest.fixture
def server(transactional_db):
    """Embedded workers running upgrades quickly (a 3-zone rolling upgrade in a few seconds)."""
    live = LiveServer(
        DEBUG="0", EMBEDDED_WORKER="1", EMBEDDED_WORKER_THREADS="2", SIMULATION_SPEED="15", WORKER_LEASE_SECONDS="2"
    ).start()
    yield live
    live.stop()


@pytest.fixture
def alpha(transactional_db):
    stock_packages(TARGET)
    return make_cluster("alpha", zones=3)


async def new_page(browser, height=LAPTOP["height"]):
    context = await browser.new_context(viewport={**LAPTOP, "height": height})
    page = await context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page, errors


async def sign_in(page, server, username):
    await page.goto(f"{server.url}/login/")
    await page.fill("#id_username", username)
    await page.fill("#id_password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{server.url}/")


async def wait_dag_state(page, state):
    await page.wait_for_function(
        "state => document.getElementById('run').dataset.dagState === state", arg=state, timeout=DEADLINE_MS
    )


async def retry_with_reason(page, reason):
    await page.locator("[data-action=retry]").click()
    dialog = page.locator("dialog[data-role=confirm]")
    await dialog.wait_for(state="visible")
    await dialog.locator("textarea").fill(reason)
    await dialog.locator("[data-role=confirm-submit]").click()
    await dialog.wait_for(state="hidden")


@closing_db_connections
async def test_arm_a_failure_at_stop_zone2_upgrade_see_it_fail_there_retry_and_succeed(browser, server, alpha):
    admin = make_user("admin", username="ada", password=PASSWORD)
    page, errors = await new_page(browser)
    await sign_in(page, server, "ada")
    await page.goto(f"{server.url}/clusters/alpha/")
    panel = page.locator("#faults")
    assert "No fault armed" in await panel.inner_text()

    # Arm from the page: the stage list offers the upgrade's stages, "Stop zone2" first choice for a drill.
    assert await page.locator("#fault-node").input_value() == "Stop zone2"
    assert await page.locator("#fault-kind-fail").is_checked()
    await page.fill("#fault-times", "1")
    await page.fill("#fault-reason", "drill: practise a retry at Stop zone2")
    dialogs = []

    async def accept(dialog):
        dialogs.append(dialog.message)
        await dialog.accept()

    page.once("dialog", accept)
    await page.click("[data-arm-button]")
    await page.wait_for_selector(".armed-fault[data-fault-node='Stop zone2']")
    assert "Fail ×1 at “Stop zone2” on every server of the stage" in dialogs[0]
    assert "Armed on alpha: Fail ×1" in await page.locator(".message-success").inner_text()
    await screenshot(page, "firstrun-cluster-fault-armed.png", panel)
    await screenshot(page, "firstrun-cluster-page.png")
    fault = Fault.objects.get()
    assert (fault.node_name, fault.kind, fault.times_remaining) == ("Stop zone2", "fail", 1)

    # Start the upgrade from the same page.
    await page.fill("#id_reason", "CHG-7: first upgrade, with a drill")
    await page.click("button[value=preview]")
    note = page.locator("[data-armed-note]")
    assert "1 fault armed on alpha:" in await note.inner_text() and "Stop zone2" in await note.inner_text()
    await screenshot(page, "firstrun-preview-armed-note.png", page.locator("#plan"))
    await page.click("[data-upgrade-button]")
    await page.wait_for_url(re.compile(rf"{re.escape(server.url)}/runs/\d+/$"))
    dag = Dag.objects.get()

    # It fails there, and only there.
    await wait_dag_state(page, "FAILED")
    failed = page.locator(".node[data-node-state=FAILED]")
    assert await failed.count() == 1
    assert "Stop zone2" in await failed.locator(".node-head").inner_text()
    assert "stop zone timeout" in await failed.locator(".node-error").inner_text()
    await screenshot(page, "firstrun-run-failed-at-stop-zone2.png")
    assert not Fault.objects.exists(), "fail ×1 is used up"

    await retry_with_reason(page, "drill: zone2 checked, retrying")
    await wait_dag_state(page, "SUCCEED")
    dag.refresh_from_db()
    assert dag.state == "SUCCEED"
    retry = AuditEntry.objects.get(action="dag.operate", dag=dag, outcome="ok")
    assert retry.reason == "drill: zone2 checked, retrying" and retry.actor_user == admin
    armed = AuditEntry.objects.get(action="fault.inject", outcome="ok")
    assert armed.reason == "drill: practise a retry at Stop zone2" and armed.actor_user == admin
    assert errors == []


@closing_db_connections
async def test_arm_and_disarm_from_the_run_page_by_keyboard(browser, server, alpha):
    admin = make_user("admin", username="ada", password=PASSWORD)
    fault_arm(cluster=alpha, node_name="Stop zone2", actor=Actor.for_user(admin), reason="setup")
    dag = start_upgrade(alpha, TARGET, actor=Actor.for_user(admin), reason="run page drill")
    page, errors = await new_page(browser, height=900)
    await sign_in(page, server, "ada")
    await page.goto(f"{server.url}/runs/{dag.pk}/")
    await wait_dag_state(page, "FAILED")

    # The panel is reachable and usable with the keyboard alone.
    await page.focus("#fault-node")
    reached = []
    for _ in range(9):
        await page.keyboard.press("Tab")
        reached.append(await page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()"))
    assert reached[:3] == ["fault-server", "fault-times", "fault-kind-fail"], reached
    assert {"fault-reason"} <= set(reached) and any("Arm fault" in r for r in reached), reached
    await page.focus("#fault-node")
    await page.keyboard.press("Tab")
    await page.keyboard.press("ArrowDown")  # Server: the one agent that runs "Stop zone2"
    assert await page.locator("#fault-server").input_value() != ""
    await page.focus("#fault-kind-fail")
    await page.keyboard.press("ArrowRight")  # Kind: hang
    assert await page.locator("#fault-kind-hang").is_checked()
    await page.focus("#fault-reason")
    await page.keyboard.type("drill: hang on the retry")
    page.once("dialog", lambda dialog: dialog.accept())
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(rf"{re.escape(server.url)}/runs/{dag.pk}/#fault-\d+$"))
    await page.wait_for_selector(".armed-fault[data-fault-node='Stop zone2']")
    fault = Fault.objects.get()
    assert fault.kind == "hang" and fault.server is not None
    item = page.locator(".armed-fault")
    assert "Hang ×1" in await item.inner_text() and f"on {fault.server} only" in await item.inner_text()
    assert AuditEntry.objects.get(action="fault.inject", actor_user=admin, reason="drill: hang on the retry")
    await page.wait_for_selector("[data-conn=live]")
    await screenshot(page, "firstrun-run-page-armed-fault.png")
    await screenshot(page, "firstrun-run-page-armed-fault-panel.png", page.locator("#faults"))

    await page.focus(".armed-fault button")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("[data-no-faults]")
    assert not Fault.objects.exists()
    assert AuditEntry.objects.filter(action="fault.disarm", outcome="ok", actor_user=admin).count() == 1
    assert errors == []


@closing_db_connections
async def test_the_try_it_card_and_its_dismissal(browser, server, transactional_db):
    stock_packages(TARGET)
    make_cluster("demo-hangzhou", zones=3)
    make_cluster("demo-shanghai", zones=3, servers_per_zone=2)
    make_user("admin", username="ada", password=PASSWORD)
    page, errors = await new_page(browser)
    await sign_in(page, server, "ada")
    card = page.locator("[data-try-it]")
    assert "Try it" in await card.inner_text()
    assert await page.evaluate("document.documentElement.scrollWidth") <= LAPTOP["width"]
    await screenshot(page, "firstrun-fleet-try-it.png")
    await page.click("text=Open demo-hangzhou")
    await page.wait_for_url(f"{server.url}/clusters/demo-hangzhou/#upgrade-h")
    await page.goto(f"{server.url}/")
    await page.focus("[data-try-it] [data-dismiss] button")
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert await page.locator("[data-try-it]").count() == 0
    await page.reload()
    assert await page.locator("[data-try-it]").count() == 0
    assert errors == []


@closing_db_connections
async def test_the_one_time_link_signs_in_once(browser, server, transactional_db, settings):
    from django.conf import settings as live_settings

    from upgrades.security.login_links import PATH, login_link_create

    if not live_settings.EMBEDDED_PROFILE:
        pytest.skip("sign-in links exist only in the embedded profile (SQLite, no REDIS_URL)")
    make_cluster("demo-hangzhou")
    admin = make_user("admin", username="admin", password=PASSWORD)
    _, secret = login_link_create(user=admin)
    page, errors = await new_page(browser)
    await page.goto(f"{server.url}{PATH.format(secret=secret)}")
    await page.wait_for_url(f"{server.url}/")
    assert "admin" in await page.locator(".session").inner_text()
    assert "Signed in as admin with the one-time link" in await page.locator(".messages").inner_text()
    other, _ = await new_page(browser)
    response = await other.goto(f"{server.url}{PATH.format(secret=secret)}")
    assert response.status == 410
    assert "already been used" in await other.locator("h1").inner_text()
    await screenshot(other, "firstrun-login-link-used.png")
    assert errors == []
