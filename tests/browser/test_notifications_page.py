"""The notifications page in a browser: an admin adds a signed webhook, sends a test, and then sees the
deliveries of a failed upgrade (one retried after a 500) with their request and answer."""

import json

import pytest

from tests.browser.helpers import closing_db_connections, screenshot, signed_in_page
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster, make_user
from tests.support.packages import stock_packages
from tests.support.waiting import wait_until
from tests.support.webhook_receiver import WebhookReceiver
from upgrades.backends.faults import fault_inject
from upgrades.models import Delivery

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
DEADLINE_MS = 60_000


@pytest.fixture
def receiver():
    with WebhookReceiver() as server:
        yield server


@pytest.fixture
def server(live_server_factory):
    return live_server_factory(
        EMBEDDED_WORKER=1,
        SIMULATION_SPEED=0,
        WEBHOOK_ALLOW_PRIVATE=1,
        DASHBOARD_URL="https://dash.example.com",
        NOTIFY_RETRY_SECONDS=2,
        DEBUG=0,
    )


@closing_db_connections
async def test_an_admin_adds_a_webhook_tests_it_and_sees_deliveries(browser, server, receiver):
    stock_packages(TARGET)
    cluster = make_cluster("hangzhou")
    admin = make_user("admin")
    page, errors = await signed_in_page(browser, server, admin)

    await page.goto(f"{server.url}/notifications/")
    await page.get_by_role("link", name="Notifications").wait_for()
    await page.fill("#sub-name", "DBA on-call hook")
    await page.select_option("#sub-format", "generic")
    await page.fill("#sub-target", receiver.url("/hooks/ob?token=t0ken"))
    await page.fill("#sub-secret", "browser-secret")
    await page.get_by_role("button", name="Add subscription").click()
    await page.get_by_role("heading", name="DBA on-call hook").wait_for()

    await page.get_by_role("button", name="Send test").click()
    await page.get_by_text("Test message delivered (HTTP 200).").wait_for()
    assert json.loads(receiver.requests[0].body)["event"] == "test"

    receiver.answers = [(500, b"busy, try later")]  # the first upgrade message is refused once
    fault_inject(cluster=cluster, node_name="Stop zone2", server=None, kind="fail", times=1)
    start_upgrade(cluster, TARGET)
    wait_until(
        lambda: Delivery.objects.filter(kind="upgrade.failed", state="succeeded").exists(),
        timeout=60,
        what="the failure delivered",
    )
    wait_until(
        lambda: Delivery.objects.filter(kind="upgrade.started", state="succeeded", attempts=2).exists(),
        timeout=60,
        what="the started message delivered on its second attempt",
    )
    await page.goto(f"{server.url}/notifications/")
    await screenshot(page, "notifications-list.png")
    await page.get_by_role("link", name="DBA on-call hook").click()
    started = page.locator("[data-delivery][data-state=succeeded]", has_text="upgrade.started")
    await started.wait_for()
    await page.locator("details summary").nth(1).click()
    await page.locator("details[open] .payload").first.wait_for()
    await screenshot(page, "notifications-subscription.png")
    text = await page.locator("#deliveries").inner_text()
    assert "upgrade.failed" in text and "HTTP 500" in text and "delivered" in text
    assert "t0ken" not in await page.content() and "browser-secret" not in await page.content()
    assert errors == []
