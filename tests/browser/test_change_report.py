"""The change report of a finished run in real Chromium: its content on screen, the print layout (no navigation,
no buttons, the stages on a page of their own) and a PDF printed by the browser (`page.pdf()`, headless Chromium)."""

import re

import pytest

from tests.browser.helpers import ARTIFACTS, closing_db_connections, screenshot, signed_in_page
from tests.engine.helpers import failed_run
from tests.support.builds import OB_4_2_1_0_20230928 as START
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.factories import make_cluster, make_user
from tests.support.fake_agent import FakeCluster
from tests.support.packages import stock_packages
from upgrades.audit import Actor
from upgrades.engine.runner import run_dag_to_end
from upgrades.services.dag_operators import dag_operate
from upgrades.services.real_clusters import cluster_register_obshell

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(live_server_factory):
    return live_server_factory(EMBEDDED_WORKER=0, DEBUG=0)


@pytest.fixture
def finished_run():
    stock_packages(TARGET)
    cluster = make_cluster("payments", zones=3)
    actor = Actor.for_user(make_user("operator", username="dba.chen"))
    dag = failed_run(cluster, TARGET, "Execute upgrade post script", actor=actor, reason="CHG-2048: security patch")
    dag = dag_operate(dag=dag, operator="retry", actor=actor, reason="lock wait timeout in upgrade_post, retrying")
    return run_dag_to_end(dag.pk)


async def viewer_page(browser, server):
    """A viewer's page whose errors list also collects the console's errors."""
    page, errors = await signed_in_page(browser, server, make_user("viewer"))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    return page, errors


@closing_db_connections
async def test_the_report_of_a_finished_run_prints_to_pdf(browser, server, finished_run):
    page, errors = await viewer_page(browser, server)
    await page.goto(f"{server.url}/runs/{finished_run.pk}/")
    panel = page.locator("section.verification")
    assert await panel.get_attribute("data-verification") == "passed"
    await screenshot(page, "verification-panel-run.png", panel)
    await page.get_by_role("link", name="Change report").click()
    await page.wait_for_url(f"**/runs/{finished_run.pk}/report/")
    assert await page.get_by_role("heading", level=1).inner_text() == finished_run.name
    text = await page.locator("article.report").inner_text()
    for expected in (
        "dba.chen",
        "CHG-2048: security patch",
        "lock wait timeout in upgrade_post, retrying",
        "Execute upgrade post script",
        "min_observer_version",
        TARGET.build_version,
    ):
        assert expected in text, expected
    print_button = page.get_by_role("button", name="Print or save as PDF")
    assert await print_button.is_visible()  # the module un-hides it
    await screenshot(page, "change-report.png")

    await page.emulate_media(media="print")
    assert await page.locator("header.topbar").is_hidden()
    assert await print_button.is_hidden()
    await screenshot(page, "change-report-print.png")
    pdf = await page.pdf(format="A4", print_background=True)
    (ARTIFACTS / "change-report.pdf").write_bytes(pdf)
    assert pdf.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert pages >= 2, pages  # the stages start on a page of their own
    assert errors == []


@closing_db_connections
async def test_the_cluster_panel_shows_failed_and_unknown_checks(browser, server):
    stock_packages(TARGET)
    cluster = make_cluster("ledger", zones=3)
    failed_run(cluster, TARGET, "Execute upgrade post script")
    page, errors = await viewer_page(browser, server)
    await page.goto(f"{server.url}/clusters/{cluster.name}/")
    panel = page.locator("section.verification")
    assert await panel.get_attribute("data-verification") == "failed"
    assert await panel.locator('[data-check="upgrade_mode_off"]').get_attribute("data-status") == "failed"
    await screenshot(page, "verification-panel-cluster-failed.png", panel)

    build = f"{START.version}-{START.build_number}"
    with FakeCluster(build=build, agent_version="4.2.4.0-100000012024091215") as fake:
        cluster_register_obshell(name="oldagent", addresses=fake.addresses, password=fake.password, edition="community")
        await page.goto(f"{server.url}/clusters/oldagent/")
        await page.get_by_role("link", name="Read the values from the agent now").click()
        await page.wait_for_url("**/clusters/oldagent/?verify=now*")
        panel = page.locator("section.verification")
        assert await panel.get_attribute("data-verification") == "unknown"
        await screenshot(page, "verification-panel-cluster-unknown.png", panel)
    assert errors == []
