"""The route as a picture in Chromium: the preview of a two-hop upgrade whose barrier has no package (hops
numbered, the barrier flagged), and the packages page's whole graph with the stored versions marked."""

import pytest

from tests.browser.helpers import closing_db_connections, screenshot, signed_in_page
from tests.support.builds import OB_4_2_0_0_20230801, OB_4_3_0_1_20240322
from tests.support.factories import make_cluster, make_user
from tests.support.packages import stock_packages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1366, "height": 768}


@pytest.fixture
def server(live_server_factory):
    return live_server_factory(DEBUG=0)


@pytest.fixture
def two_hops(transactional_db):
    """A cluster on the deprecated 4.2 RC2 build and only the 4.3.0.1 packages: the route passes the 4.2.1.2
    barrier, whose rpms are not stored."""
    stock_packages(OB_4_3_0_1_20240322)
    return make_cluster("beta", zones=3, version=OB_4_2_0_0_20230801.version, build=OB_4_2_0_0_20230801.build_number)


async def in_view(box, element):
    """Whether `element` lies wholly inside the scrolling `box`'s visible part."""
    outer, inner = await box.bounding_box(), await element.bounding_box()
    return outer["x"] <= inner["x"] and inner["x"] + inner["width"] <= outer["x"] + outer["width"]


@closing_db_connections
async def test_preview_draws_the_route_hop_by_hop_and_flags_the_missing_barrier_package(browser, server, two_hops):
    olga = make_user("operator", username="olga")
    page, errors = await signed_in_page(browser, server, olga, viewport=LAPTOP)
    await page.goto(f"{server.url}/clusters/beta/")
    await page.click("button[value=preview]")
    await page.wait_for_selector("#plan svg.route-graph[role=img]")

    svg = page.locator("#plan svg.route-graph[role=img]")
    assert await svg.get_attribute("role") == "img"
    assert "Route: 4.2.0.0-100000152023080109 → 4.2.1.2 (hop 1, barrier) → 4.3.0.1 (hop 2)" in (
        await svg.locator("desc").text_content()
    )
    # Every step of the route is drawn thick and numbered with its hop: four steps to the barrier, two after.
    assert await svg.locator(".rg-route-edge[data-hop='1']").count() == 4
    assert await svg.locator(".rg-route-edge[data-hop='2']").count() == 2
    assert await svg.locator(".rg-hop").count() == 6
    barrier = svg.locator(".rg-node[data-key='4.2.1.2']")
    assert "rg-missing" in await barrier.get_attribute("class")
    assert "⚠ missing · barrier" in await barrier.locator(".rg-marks").text_content()
    assert await barrier.locator(".rg-flag").is_visible()
    assert "hop 1" in await barrier.locator(".rg-tag").text_content()
    target = svg.locator(".rg-node[data-key='4.3.0.1']")
    assert "rg-missing" not in await target.get_attribute("class")
    assert "◎ target" in await target.locator(".rg-tag").text_content()
    assert "current" in await svg.locator(".rg-node.rg-current .rg-tag").text_content()
    assert "deprecated" in await svg.locator(".rg-node.rg-current .rg-marks").text_content()

    # The words beside the picture say the same.
    hops = page.locator("[data-route-hops] li")
    assert await hops.count() == 2
    first = await hops.nth(0).inner_text()
    assert "4.2.0.0-100000152023080109 → 4.2.1.2" in first and "barrier" in first
    assert "oceanbase-ce-4.2.1.2" in await hops.nth(0).locator("[data-missing]").inner_text()
    assert await hops.nth(1).locator("[data-missing]").count() == 0

    # The picture scrolls inside its box (the page itself does not), starting near the cluster's build.
    box = page.locator(".route-picture-scroll")
    assert await box.evaluate("b => b.scrollWidth > b.clientWidth")
    assert await box.evaluate("b => b.scrollLeft > 0")
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # The cluster's build is in view first; the keyboard scrolls on to the target.
    assert await in_view(box, svg.locator(".rg-node.rg-current"))
    await screenshot(page, "route-picture-preview.png", page.locator("#plan .route-picture-wrap"))
    await box.focus()
    before = await box.evaluate("b => b.scrollLeft")
    for _ in range(12):
        await page.keyboard.press("ArrowRight")
    assert await box.evaluate("b => b.scrollLeft") > before
    await box.evaluate("b => { b.scrollLeft = b.scrollWidth; }")
    assert await in_view(box, target)
    await screenshot(page, "route-picture-preview-end.png", page.locator("#plan .route-picture-wrap"))
    await page.locator("h1").focus()
    await screenshot(page, "route-picture-preview-page.png")
    assert errors == []


@closing_db_connections
async def test_packages_page_draws_the_whole_graph_with_stored_versions(browser, server, two_hops):
    vera = make_user("viewer", username="vera")
    page, errors = await signed_in_page(browser, server, vera, viewport=LAPTOP)
    await page.goto(f"{server.url}/packages/")
    svg = page.locator("#version-graph svg.route-graph[role=img]")
    await svg.wait_for()
    assert await svg.locator(".rg-node").count() == 16
    assert await svg.locator(".rg-edge").count() == 15
    assert await svg.locator(".rg-route-edge").count() == 0
    stored = svg.locator(".rg-node.rg-stored")
    assert await stored.count() == 1
    assert await stored.get_attribute("data-key") == "4.3.0.1"
    assert "✓ 2 rpms" in await stored.locator(".rg-marks").text_content()
    assert await svg.locator(".rg-node.rg-barrier polygon").count() == 2
    assert await svg.locator(".rg-node.rg-deprecated").count() == 3
    assert "✓ 2 rpms" in await page.locator(".route-versions li[data-key='4.3.0.1']").inner_text()
    assert await in_view(page.locator("#version-graph .route-picture-scroll"), stored)
    await screenshot(page, "route-picture-packages.png", page.locator("#version-graph"))
    await screenshot(page, "route-picture-packages-page.png")
    assert errors == []
