"""A real cluster's run page in Chromium: the daphne child mirrors the (fake) agent's DAG and the page moves live,
saying "agent unreachable, retrying" while every agent restarts at "Restart obshell", then reaches SUCCEED."""

import pytest

from tests.browser.helpers import closing_db_connections, screenshot, signed_in_page
from tests.support.builds import OB_4_2_1_0_20230928 as START
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.factories import make_user
from tests.support.fake_agent import FakeCluster
from tests.support.packages import ingest_rpms
from upgrades.audit import Actor
from upgrades.services.dag_start import upgrade_start
from upgrades.services.real_clusters import cluster_register_obshell
from upgrades.services.real_upgrades import packages_push

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DEADLINE_MS = 90_000


@pytest.fixture
def server(live_server_factory):
    return live_server_factory(EMBEDDED_WORKER=1, MIRROR_POLL_SECONDS=0.2, WORKER_LEASE_SECONDS=2, DEBUG=0)


@closing_db_connections
async def test_mirrored_run_moves_live_and_shows_the_agent_away(browser, server, tmp_path):
    operator = make_user("operator")
    with FakeCluster(build=f"{START.version}-{START.build_number}", tick_seconds=0.15, restart_seconds=4) as fake:
        cluster = cluster_register_obshell(name="real1", addresses=fake.addresses, password=fake.password)
        packages_push(cluster=cluster, packages=ingest_rpms(TARGET, tmp_path))
        dag = upgrade_start(
            cluster=cluster,
            version=TARGET.version,
            release=TARGET.release,
            mode="ROLLING",
            actor=Actor.for_user(operator),
            reason="browser test: a real cluster",
        )
        page, errors = await signed_in_page(browser, server, operator)
        await page.goto(f"{server.url}/runs/{dag.pk}/")
        await page.wait_for_selector("[data-conn=live]")
        banner = page.locator("[data-role=agent-contact]")
        await banner.wait_for(state="visible", timeout=DEADLINE_MS)
        assert "Agent unreachable, retrying" in await banner.inner_text()
        await screenshot(page, "run-page-agent-unreachable.png")
        await page.wait_for_function(
            "() => document.getElementById('run').dataset.dagState === 'SUCCEED'", timeout=DEADLINE_MS
        )
        await banner.wait_for(state="hidden")
        assert await page.locator(".node[data-node-state=SUCCEED]").count() == 30
        assert "agent's id" in (await page.inner_text(".run-facts")).lower()
        await screenshot(page, "run-page-mirrored-succeeded.png")
        assert errors == []
        await page.context.close()


@closing_db_connections
async def test_register_a_real_cluster_from_the_page(browser, server):
    admin = make_user("admin")
    with FakeCluster(build=f"{START.version}-{START.build_number}") as fake:
        page, _ = await signed_in_page(browser, server, admin)
        await page.goto(f"{server.url}/register-cluster/")

        async def fill():
            await page.get_by_label("Name").fill("real-hz-1")
            await page.get_by_label("Agent addresses").fill("\n".join(fake.addresses))
            await page.get_by_label("root@sys password").fill(fake.password)

        await fill()
        await page.get_by_role("button", name="Test connection").click()
        await page.get_by_text("the password was accepted").wait_for()
        assert await page.locator("[data-role=found] tbody tr").count() == 3
        await screenshot(page, "register-cluster-tested.png")
        await fill()
        await page.get_by_role("button", name="Register", exact=True).click()
        await page.wait_for_url(f"{server.url}/clusters/real-hz-1/")
        assert "Refresh now" in await page.inner_text("[data-role=real-cluster]")
        await screenshot(page, "cluster-page-real.png")
        await page.context.close()
