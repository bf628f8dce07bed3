"""A live page whose socket is refused (4401 signed out, 4403 no role) stops reconnecting and says why
(static/js/live_socket.js), in real Chromium against a daphne child with a short heartbeat."""

import asyncio

import pytest
from django.test import Client

from tests.browser.helpers import closing_db_connections, screenshot
from tests.live.helpers import make_dag
from tests.support.factories import make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(live_server_factory):
    return live_server_factory(EMBEDDED_WORKER=0, DEBUG=0, settings={"LIVE_HEARTBEAT_SECONDS": 0.3})


async def open_run_page(browser, server, client, dag):
    context = await browser.new_context(viewport={"width": 1366, "height": 900})
    await context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": server.url}])
    page = await context.new_page()
    sockets = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    await page.goto(f"{server.url}/runs/{dag.pk}/")
    await page.wait_for_selector("[data-conn=live]")
    return page, sockets


async def assert_no_reconnect(page, sockets):
    opened = len(sockets)
    await asyncio.sleep(2)  # several heartbeats and more than the first reconnect backoffs
    assert len(sockets) == opened, sockets


@closing_db_connections
async def test_a_removed_role_stops_the_page_with_no_access(browser, server):
    user = make_user("viewer")
    client = Client()
    client.force_login(user)
    page, sockets = await open_run_page(browser, server, client, make_dag())
    user.groups.clear()
    alert = page.locator("[data-live-refused=no-access]")
    await alert.wait_for()
    assert "no access" in await alert.inner_text()
    await page.wait_for_selector("[data-conn=stale]")
    assert "no access" in await page.locator("[data-role=connection]").inner_text()
    await screenshot(page, "run-page-no-access.png")
    await assert_no_reconnect(page, sockets)


@closing_db_connections
async def test_signing_out_stops_the_page_with_sign_in_again(browser, server):
    client = Client()
    client.force_login(make_user("viewer"))
    dag = make_dag()
    page, sockets = await open_run_page(browser, server, client, dag)
    client.logout()
    alert = page.locator("[data-live-refused=signed-out]")
    await alert.wait_for()
    assert "signed out" in await alert.inner_text()
    link = alert.get_by_role("link", name="sign in again")
    assert await link.get_attribute("href") == f"/login/?next=%2Fruns%2F{dag.pk}%2F"
    await assert_no_reconnect(page, sockets)
