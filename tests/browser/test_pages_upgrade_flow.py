"""The pages in real Chromium against a daphne child process: sign in, open a cluster, preview a plan, click
Upgrade with a reason and land on the run page; the cluster list follows a run live; keyboard reachability."""

import re

import pytest

from tests.browser.helpers import closing_db_connections, screenshot
from tests.support.builds import OB_4_2_1_1_20231101
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster, make_user
from tests.support.packages import stock_packages
from tests.support.paths import shipped_dep_yaml
from upgrades.audit import Actor
from upgrades.models import AuditEntry, Dag

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1366, "height": 768}
PASSWORD = "correct-horse-battery"
DEADLINE_MS = 60_000


@pytest.fixture
def server(live_server_factory):
    return live_server_factory(DEBUG=0)


@pytest.fixture
def working_server(live_server_factory):
    """A server whose embedded workers run upgrades quickly (a 3-zone rolling upgrade in a few seconds)."""
    return live_server_factory(DEBUG=0, EMBEDDED_WORKER=1, EMBEDDED_WORKER_THREADS=2, SIMULATION_SPEED=15)


@pytest.fixture
def fleet(transactional_db):
    stock_packages(OB_4_2_1_1_20231101)
    return make_cluster("alpha", zones=3, servers_per_zone=2)


async def new_page(browser):
    context = await browser.new_context(viewport=LAPTOP)
    page = await context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page, errors


async def sign_in(page, server, username):
    await page.goto(f"{server.url}/")
    assert "/login/" in page.url
    await page.fill("#id_username", username)
    await page.fill("#id_password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{server.url}/")


@closing_db_connections
async def test_sign_in_preview_and_upgrade_lands_on_the_run_page(browser, server, fleet):
    operator = make_user("operator", username="olga", password=PASSWORD)
    page, errors = await new_page(browser)
    await page.goto(f"{server.url}/login/")
    await screenshot(page, "pages-login.png")
    await sign_in(page, server, "olga")
    assert "olga" in await page.locator(".session").inner_text()
    await screenshot(page, "pages-clusters.png")

    await page.click("a:has-text('alpha')")
    await page.wait_for_url(f"{server.url}/clusters/alpha/")
    assert await page.locator(".zone").count() == 3
    await screenshot(page, "pages-cluster.png")

    await page.fill("#id_reason", "CHG-2041: move alpha to 4.2.1.1")
    await page.click("button[value=preview]")
    await page.wait_for_selector("#plan")
    assert await page.locator(".checks .check-ok").count() == await page.locator(".checks li").count()
    assert await page.locator(".nodes li").count() == 30
    assert "4.2.1.1-101000012023110109" in await page.locator(".route").inner_text()
    await screenshot(page, "pages-preview.png")
    assert Dag.objects.count() == 0

    await page.click("[data-upgrade-button]")
    await page.wait_for_url(re.compile(rf"{re.escape(server.url)}/runs/\d+/$"))
    dag = Dag.objects.get()
    assert page.url == f"{server.url}/runs/{dag.pk}/"
    assert dag.reason == "CHG-2041: move alpha to 4.2.1.1" and dag.started_by == operator
    assert AuditEntry.objects.filter(dag=dag, actor_user=operator, outcome="ok").exists()
    assert await page.locator("[data-counter=running]").inner_text() == "1"
    await screenshot(page, "pages-run-landing.png")
    assert errors == []


@closing_db_connections
async def test_changing_a_parameter_after_preview_disables_upgrade_until_previewed_again(browser, server, fleet):
    make_user("operator", username="olga", password=PASSWORD)
    page, errors = await new_page(browser)
    await sign_in(page, server, "olga")
    await page.goto(f"{server.url}/clusters/alpha/")
    await page.click("button[value=preview]")
    await page.wait_for_selector("[data-upgrade-button]")
    assert await page.locator("[data-upgrade-button]").is_enabled()
    await page.check("#id_mode_1")  # stop service
    assert await page.locator("[data-upgrade-button]").is_disabled()
    assert await page.locator("[data-stopservice-warning]").is_visible()
    assert await page.locator("[data-preview-stale]").is_visible()
    await page.check("#id_mode_0")
    assert await page.locator("[data-upgrade-button]").is_enabled()
    assert errors == []


@closing_db_connections
async def test_main_controls_are_reachable_by_keyboard(browser, server, fleet):
    make_user("operator", username="olga", password=PASSWORD)
    page, errors = await new_page(browser)
    await sign_in(page, server, "olga")
    await page.goto(f"{server.url}/clusters/alpha/")
    await page.click("button[value=preview]")
    await page.wait_for_selector("[data-upgrade-button]")
    reached = []
    for _ in range(80):  # more stops than the page has: the walk wraps around, so every control is visited
        await page.keyboard.press("Tab")
        reached.append(
            await page.evaluate(
                """() => { const el = document.activeElement;
                   return {id: el.id, name: el.name || '', value: el.value || '', text: (el.innerText || '').trim(),
                           outline: getComputedStyle(el).outlineStyle}; }"""
            )
        )
    texts = [r["text"] for r in reached]
    for label in ("Skip to content", "Clusters", "Runs", "Packages", "Audit", "Log out", "Preview plan", "Upgrade"):
        assert label in texts, (label, texts)
    ids = {r["id"] for r in reached}
    assert {"id_package", "id_mode_0", "id_upgrade_dir", "id_freeze_server", "id_reason"} <= ids
    assert all(r["outline"] != "none" for r in reached if r["text"] in ("Preview plan", "Upgrade"))
    await screenshot(page, "pages-keyboard-focus.png")

    # Enter on the focused Upgrade button starts the run, as a click does.
    await page.fill("#id_reason", "keyboard only")
    await page.focus("[data-upgrade-button]")
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r".*/runs/\d+/$"))
    assert Dag.objects.get().reason == "keyboard only"
    assert errors == []


@closing_db_connections
async def test_other_pages_render_for_a_laptop(browser, server, fleet):
    make_user("admin", username="ada", password=PASSWORD)
    start_upgrade(fleet, OB_4_2_1_1_20231101, actor=Actor.system("token ci-pipeline"), reason="nightly fleet upgrade")
    page, errors = await new_page(browser)
    await sign_in(page, server, "ada")
    for path, name, heading in (
        ("/", "pages-clusters-maintenance.png", "Clusters"),
        ("/runs/", "pages-runs.png", "Runs"),
        ("/packages/", "pages-packages.png", "Packages"),
        ("/audit/", "pages-audit.png", "Audit log"),
        ("/clusters/alpha/", "pages-cluster-admin.png", "alpha"),
    ):
        await page.goto(f"{server.url}{path}")
        assert await page.locator("h1").first.inner_text() == heading
        # Nothing overflows the laptop's width.
        assert await page.evaluate("document.documentElement.scrollWidth") <= LAPTOP["width"]
        await screenshot(page, name)

    make_cluster("small", zones=2)
    await page.goto(f"{server.url}/clusters/small/")
    assert await page.locator("#id_mode_1").is_checked(), "2 zones: stop service is the default"
    await page.check("#id_mode_0")
    await page.click("button[value=preview]")
    await page.wait_for_selector("#plan")
    failed = page.locator(".checks li.check-failed")
    assert await failed.count() == 1
    assert "OB.Upgrade.UnableToRollingUpgrade" in await failed.inner_text()
    assert await page.locator("[data-upgrade-button]").count() == 0
    await screenshot(page, "pages-preview-failed.png")
    assert errors == []


@closing_db_connections
async def test_cluster_list_and_counters_follow_a_run_live(browser, working_server, fleet):
    make_user("viewer", username="vera", password=PASSWORD)
    page, errors = await new_page(browser)
    await sign_in(page, working_server, "vera")
    await page.wait_for_selector("[data-live-status]:has-text('live')")
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    row = page.locator("tr[data-cluster=alpha]")
    assert "never upgraded" in await row.inner_text()

    start_upgrade(fleet, OB_4_2_1_1_20231101, actor=Actor.system("token ci-pipeline"), reason="live list test")
    await page.wait_for_selector("tr[data-cluster=alpha] .badge-maintenance", timeout=DEADLINE_MS)
    await page.wait_for_function(
        "() => document.querySelector('[data-counter=running]').textContent.trim() === '1'", timeout=DEADLINE_MS
    )
    await screenshot(page, "pages-clusters-live-running.png")
    await page.wait_for_selector("tr[data-cluster=alpha] .badge-succeed", timeout=DEADLINE_MS)
    await page.wait_for_function(
        "() => document.querySelector('[data-counter=running]').textContent.trim() === '0'", timeout=DEADLINE_MS
    )
    assert "Under maintenance" not in await row.inner_text()
    assert "4.2.1.1-101000012023110109" in await row.inner_text()
    assert navigations == [], "the list updated in place"
    await screenshot(page, "pages-clusters-live-done.png")
    assert errors == []


@closing_db_connections
async def test_stop_service_asks_before_starting(browser, server, fleet):
    make_user("operator", username="olga", password=PASSWORD)
    make_cluster("solo", zones=1)
    page, errors = await new_page(browser)
    await sign_in(page, server, "olga")
    await page.goto(f"{server.url}/clusters/solo/")
    assert await page.locator("[data-stopservice-warning]").is_visible()
    await page.fill("#id_reason", "maintenance window 02:00")
    await page.click("button[value=preview]")
    await page.wait_for_selector("[data-upgrade-button]")
    dialogs = []

    async def dismiss(dialog):
        dialogs.append(dialog.message)
        await dialog.dismiss()

    page.once("dialog", dismiss)
    await page.evaluate("window.__samePage = true")
    await page.click("[data-upgrade-button]")
    assert dialogs and "business traffic is interrupted" in dialogs[0]
    # Dismissed: the form was not submitted (same document, nothing created).
    assert await page.evaluate("window.__samePage === true")
    assert Dag.objects.count() == 0

    page.once("dialog", lambda dialog: dialog.accept())
    await page.click("[data-upgrade-button]")
    await page.wait_for_url(re.compile(r".*/runs/\d+/$"))
    assert Dag.objects.get().mode == "STOPSERVICE"
    assert errors == []


@closing_db_connections
async def test_package_upload_shows_progress_then_the_list_or_the_refusal(browser, server, tmp_path):
    from upgrades.demo.rpms import write_oceanbase_rpms
    from upgrades.models import Package

    make_user("admin", username="ada", password=PASSWORD)
    rpm = write_oceanbase_rpms(
        tmp_path, edition="community", version="4.2.1.1", release="101000012023110109.el7", dep_yaml=shipped_dep_yaml()
    )[0]
    bogus = tmp_path / "broken.rpm"
    bogus.write_bytes(b"not an rpm at all" * 64)
    page, errors = await new_page(browser)
    await sign_in(page, server, "ada")
    await page.goto(f"{server.url}/packages/")
    await page.set_input_files("input[type=file]", str(bogus))
    await page.click("[data-upload-form] button[type=submit]")
    await page.wait_for_selector("#upload-card [data-refusal]")
    assert page.url == f"{server.url}/packages/"
    await screenshot(page, "pages-package-refused.png")
    assert Package.objects.count() == 0

    await page.set_input_files("input[type=file]", str(rpm))
    await page.click("[data-upload-form] button[type=submit]")
    await page.wait_for_selector(".message-success")
    assert "oceanbase-ce-4.2.1.1" in await page.locator(".message-success").inner_text()
    assert await page.locator("tbody tr").count() == 1
    await screenshot(page, "pages-package-uploaded.png")
    assert errors == []


@closing_db_connections
async def test_cluster_page_follows_a_run_live(browser, working_server, fleet):
    make_user("operator", username="olga", password=PASSWORD)
    page, errors = await new_page(browser)
    await sign_in(page, working_server, "olga")
    await page.goto(f"{working_server.url}/clusters/alpha/")
    await page.wait_for_selector("[data-live-status]:has-text('live')")
    await page.fill("#id_reason", "typed while the run goes")
    dag = start_upgrade(
        fleet, OB_4_2_1_1_20231101, actor=Actor.system("token ci-pipeline"), reason="live cluster page test"
    )
    await page.wait_for_selector("[data-live-region=maintenance] .alert", timeout=DEADLINE_MS)
    await page.wait_for_selector(f"[data-live-region=recent-runs] a[href='/runs/{dag.pk}/']", timeout=DEADLINE_MS)
    await page.wait_for_function(
        """() => [...document.querySelectorAll('.server .cell-sub.mono')]
                 .every(el => el.textContent.trim() === '4.2.1.1-101000012023110109')""",
        timeout=DEADLINE_MS,
    )
    await page.wait_for_selector("[data-live-region=recent-runs] .badge-succeed", timeout=DEADLINE_MS)
    await page.wait_for_function(
        "() => !document.querySelector('[data-live-region=maintenance] .alert')", timeout=DEADLINE_MS
    )
    assert await page.input_value("#id_reason") == "typed while the run goes", "the form is never replaced"
    await screenshot(page, "pages-cluster-live-done.png")
    assert errors == []
