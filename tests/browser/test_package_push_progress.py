"""A real cluster's page while packages are pushed to its agent: the progress bars move without a reload (the list
is polled while a push is queued or sending) and stop once every push is done."""

import pytest

from tests.browser.helpers import closing_db_connections, screenshot, signed_in_page
from tests.support.builds import OB_4_2_1_0_20230928 as START
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.factories import make_user
from tests.support.fake_agent import FakeCluster
from tests.support.packages import ingest_rpms
from upgrades.models import PackageSync
from upgrades.services.real_clusters import cluster_register_obshell

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(live_server_factory):
    return live_server_factory(EMBEDDED_WORKER=0, DEBUG=0)


@closing_db_connections
async def test_push_progress_moves_on_the_cluster_page(browser, server, tmp_path):
    viewer = make_user("viewer")
    with FakeCluster(build=f"{START.version}-{START.build_number}") as fake:
        cluster = cluster_register_obshell(name="real1", addresses=fake.addresses, password=fake.password)
        first, second = ingest_rpms(TARGET, tmp_path)[:2]
        sending = PackageSync.objects.create(
            cluster=cluster, package=first, state="sending", bytes_sent=10, total_bytes=100
        )
        PackageSync.objects.create(cluster=cluster, package=second, state="queued", total_bytes=100)
        page, errors = await signed_in_page(browser, server, viewer)
        await page.goto(f"{server.url}/clusters/real1/")
        syncs = page.locator('[data-live-region="package-syncs"]')
        assert "10%" in await syncs.inner_text()

        PackageSync.objects.filter(pk=sending.pk).update(bytes_sent=60)
        await page.wait_for_function(
            "() => document.querySelector('[data-sync-state=\"sending\"] progress').value === 60",
            timeout=15_000,
        )
        await screenshot(page, "cluster-package-push-progress.png", syncs)

        PackageSync.objects.filter(cluster=cluster).update(state="done", bytes_sent=100)
        await page.wait_for_function(
            "() => !document.querySelector('[data-live-region=\"package-syncs\"] progress')", timeout=15_000
        )
        assert (await syncs.inner_text()).count("done") == 2
        assert errors == []
        await page.context.close()
