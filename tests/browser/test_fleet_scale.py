"""The fleet page on a seeded fleet (manage.py seed_fleet, 120 clusters): search and pagination keep each other,
the state filter is usable from the keyboard, and a running upgrade's row shows its progress moving live (the
feed socket) with an ETA from the usual durations, and a stalled run's row says it is stalled."""

import re

import pytest

from tests.browser.helpers import closing_db_connections, screenshot, signed_in_page
from tests.support.factories import make_user
from upgrades.audit import Actor
from upgrades.demo.fleet import BUILDS, DISTRIBUTION
from upgrades.demo.scale import seed_fleet
from upgrades.models import Cluster
from upgrades.services.dag_start import upgrade_start

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DEADLINE_MS = 60_000


def rows(page):
    return page.locator("tbody tr[data-cluster]")


@closing_db_connections
async def test_search_paginate_filter_and_watch_a_running_upgrade(browser, live_server_factory):
    seed_fleet(clusters=120, servers=9, runs=360)
    # fleet-0005 runs 4.2.1.0: upgrade it to the newest stored build; the server's worker runs it.
    upgrading = Cluster.objects.get(name="fleet-0005")
    dag = upgrade_start(
        cluster=upgrading,
        version="4.3.0.1",
        release=f"{BUILDS['4.3.0.1']}.{DISTRIBUTION}",
        mode="ROLLING",
        actor=Actor.system("test"),
        reason="browser test: fleet progress",
    )
    server = live_server_factory(EMBEDDED_WORKER=1, EMBEDDED_WORKER_THREADS=2, SIMULATION_SPEED=1, DEBUG=0)
    page, errors = await signed_in_page(browser, server, make_user("viewer"))

    await page.goto(f"{server.url}/")
    assert await rows(page).count() == 50
    assert "Clusters 1–50 of 120 · page 1 of 3" in await page.inner_text("#fleet-count")
    await screenshot(page, "fleet-page.png")

    # Search from the keyboard: type into the search box and press Enter.
    await page.focus("#id_q")
    await page.keyboard.type("fleet-00")
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r"\?q=fleet-00"))
    assert "Clusters 1–50 of 99" in await page.inner_text("#fleet-count")
    assert await rows(page).first.get_attribute("data-cluster") == "fleet-0001"
    await page.click("text=Next →")
    await page.wait_for_url(re.compile(r"\?q=fleet-00&.*page=2$"))
    assert await rows(page).count() == 49
    assert await rows(page).first.get_attribute("data-cluster") == "fleet-0051"
    assert await page.input_value("#id_q") == "fleet-00"
    # Sorting from the header keeps the search and starts again at page 1.
    await page.click("th >> text=Cluster")
    await page.wait_for_url(re.compile(r"\?q=fleet-00&sort=-name$"))  # the page number is dropped
    assert await rows(page).first.get_attribute("data-cluster") == "fleet-0099"
    await screenshot(page, "fleet-search-sorted.png")

    # The state filter, by keyboard: choose "running", tab to Apply, press Enter.
    await page.goto(f"{server.url}/")
    await page.focus("#id_state")
    await page.select_option("#id_state", "running")
    await page.focus("form[role=search] button[type=submit]")
    await page.keyboard.press("Enter")
    await page.wait_for_url(re.compile(r"state=running"))
    row = page.locator('tr[data-cluster="fleet-0005"]')
    await row.wait_for()
    # Its progress moves with the run (feed socket), and the ETA comes from the seeded history.
    await page.wait_for_selector("[data-live-status]:has-text('live')")
    await page.wait_for_function(
        """() => {
            const text = document.querySelector('tr[data-cluster="fleet-0005"] [data-progress-text]');
            return text && /^[1-9]\\d*\\/\\d+ stages$/.test(text.textContent.trim());
        }""",
        timeout=DEADLINE_MS,
    )
    eta = await row.locator("[data-eta]").inner_text()
    assert re.fullmatch(r"about .+ left · ETA \d\d:\d\d", eta.strip()), eta
    assert f"/runs/{dag.pk}/" in await row.inner_html()
    # The seeded stalled run says so, in words and colour.
    stalled = page.locator('tr[data-cluster="fleet-0008"]')
    assert "stalled" in await stalled.inner_text() and "row-stalled" in await stalled.get_attribute("class")
    await screenshot(page, "fleet-running.png")
    await screenshot(page, "fleet-running-row.png", row)
    assert errors == []
