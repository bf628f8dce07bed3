"""The campaign page in real Chromium against a daphne child running the embedded worker (and so the
`campaign-advance` job): after Start, the wave-by-cluster grid moves on its own, from the feed socket, with no
reload: every cell goes pending -> running -> succeeded, wave after wave."""

import pytest

from tests.browser.helpers import closing_db_connections, screenshot, signed_in_page
from tests.campaigns.helpers import create, make_fleet
from tests.support.factories import make_user
from upgrades.models import Campaign, CampaignCluster

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SPEED = 25
DEADLINE_MS = 300_000

# Records every state each cell shows, in order, across live refreshes of the grid.
RECORDER = """
window.__docId = Math.random();
window.__cells = {};
const record = () => {
  for (const el of document.querySelectorAll('[data-live-region="campaign-grid"] [data-cluster]')) {
    const seen = (window.__cells[el.dataset.cluster] ||= []);
    if (seen[seen.length - 1] !== el.dataset.state) seen.push(el.dataset.state);
  }
};
document.addEventListener('DOMContentLoaded', () => {
  record();
  new MutationObserver(record).observe(document.body, {subtree: true, childList: true});
});
"""


@pytest.fixture
def server(live_server_factory):
    return live_server_factory(
        EMBEDDED_WORKER=1,
        EMBEDDED_WORKER_THREADS=3,
        SIMULATION_SPEED=SPEED,
        WORKER_LEASE_SECONDS=10,
        CAMPAIGN_TICK_SECONDS=0.5,
        DEBUG=0,
    )


@closing_db_connections
async def test_the_grid_moves_live(browser, server):
    operator = make_user("operator")
    clusters = make_fleet(4)
    campaign = create(clusters, wave_size=3, max_parallel=2, actor=None)
    page, errors = await signed_in_page(browser, server, operator, init_script=RECORDER)
    await page.goto(f"{server.url}/campaigns/{campaign.pk}/")
    await screenshot(page, "campaign-draft.png")
    await page.get_by_role("button", name="Start").click()
    await page.wait_for_selector('[data-campaign-state="running"]')
    doc_id = await page.evaluate("window.__docId")
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)

    await page.wait_for_selector('[data-live-region="campaign-grid"] [data-state="running"]', timeout=DEADLINE_MS)
    await screenshot(page, "campaign-running.png")
    await page.wait_for_selector('[data-campaign-state="succeeded"]', timeout=DEADLINE_MS)
    await page.wait_for_function(
        "() => document.querySelectorAll(`[data-live-region='campaign-grid'] [data-state='succeeded']`).length === 4",
        timeout=DEADLINE_MS,
    )
    # The actions follow too: a finished campaign offers none.
    await page.wait_for_function("() => !document.querySelector('button[value=pause]')", timeout=DEADLINE_MS)
    await screenshot(page, "campaign-succeeded.png")

    assert navigations == [] and await page.evaluate("window.__docId") == doc_id  # no reload: the feed moved it
    seen = await page.evaluate("window.__cells")
    for cluster in clusters:
        states = seen[cluster.name]
        assert states[-1] == "succeeded", (cluster.name, states)
        assert "running" in states, (cluster.name, states)  # the cell was seen running, then succeeded
    assert errors == []
    campaign = await Campaign.objects.aget(pk=campaign.pk)
    assert campaign.state == Campaign.State.SUCCEEDED
    assert await CampaignCluster.objects.filter(campaign=campaign, state="succeeded").acount() == 4

    # The list and the new-campaign form with its preview (screenshots to look at).
    await page.goto(f"{server.url}/campaigns/")
    assert await page.locator('[data-campaign-state="succeeded"]').count() == 1
    await screenshot(page, "campaigns-list.png")
    await page.goto(f"{server.url}/campaigns/new/")
    await page.get_by_label("Name", exact=True).fill("next round")
    await page.get_by_label("Name pattern").fill("c*")
    await page.get_by_label("Allow downtime").check()
    await page.locator("#id_target_community").select_option(index=1)
    await page.get_by_role("button", name="Preview").click()
    await page.wait_for_selector("[data-campaign-preview]")
    assert "already on the target" in await page.locator("[data-campaign-preview]").inner_text()
    await screenshot(page, "campaign-new-preview.png")
    await page.context.close()
