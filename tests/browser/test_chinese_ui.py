"""Issue 13, Language and time, in Chromium: a user whose browser asks for English and runs in New York picks
简体中文 and Asia/Shanghai on the preferences page; the fleet, a cluster page, a run page, the campaigns list and a
campaign page are then in Chinese, with the server's and the scripts' times in +08:00."""

from zoneinfo import ZoneInfo

import pytest

from tests.browser.helpers import closing_db_connections, screenshot, signed_in_page
from tests.campaigns.helpers import create, make_fleet
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster, make_user
from tests.support.packages import stock_packages
from upgrades.models import Dag, UserPreference

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHANGHAI = ZoneInfo("Asia/Shanghai")
DEADLINE_MS = 60_000


@pytest.fixture
def server(live_server_factory):
    return live_server_factory(EMBEDDED_WORKER=1, SIMULATION_SPEED=0, DEBUG=0)


def shanghai(moment, pattern="%Y-%m-%d %H:%M"):
    return moment.astimezone(SHANGHAI).strftime(pattern)


@closing_db_connections
async def test_a_user_who_picks_chinese_and_shanghai_sees_the_fleet_cluster_and_run_in_both(browser, server):
    stock_packages(TARGET)
    cluster = make_cluster("hangzhou-1", zones=3)
    dag = start_upgrade(cluster, TARGET, reason="季度补丁 CHG-42")
    user = make_user("operator")
    # A draft campaign of four clusters: a canary, then waves of two.
    campaign = create([cluster, *make_fleet(3, prefix="shanghai-", stock=False)], wave_size=2, name="季度升级")
    page, errors = await signed_in_page(browser, server, user, locale="en-US", timezone_id="America/New_York")

    # The browser asks for English: the pages start in English.
    await page.goto(f"{server.url}/")
    assert await page.locator("h1").inner_text() == "Clusters"
    await page.get_by_role("link", name="Preferences").click()
    await page.select_option("#id_language", "zh-hans")
    await page.select_option("#id_time_zone", "Asia/Shanghai")
    await screenshot(page, "chinese-ui-preferences-before.png")
    await page.get_by_role("button", name="Save").click()
    await page.wait_for_selector("text=偏好设置已保存")
    assert await page.locator("h1").inner_text() == "偏好设置"
    assert "+0800" in await page.locator("form p.small").inner_text()
    await screenshot(page, "chinese-ui-preferences.png")
    saved = await UserPreference.objects.aget(user=user)
    assert (saved.language, saved.time_zone) == ("zh-hans", "Asia/Shanghai")

    # The run ends (zero-duration steps); its times are known from here on.
    await page.goto(f"{server.url}/runs/{dag.pk}/")
    await page.wait_for_function(
        "() => document.getElementById('run').dataset.dagState === 'SUCCEED'", timeout=DEADLINE_MS
    )
    dag = await Dag.objects.aget(pk=dag.pk)

    # The fleet.
    await page.goto(f"{server.url}/")
    assert await page.locator("html").get_attribute("lang") == "zh-hans"
    assert await page.locator("h1").inner_text() == "集群"
    nav = await page.get_by_role("navigation", name="主导航").inner_text()
    assert "升级任务" in nav and "软件包" in nav and "审计" in nav
    row = page.locator(f"tr[data-cluster='{cluster.name}']")
    assert shanghai(dag.created_at) in await row.inner_text()
    await screenshot(page, "chinese-ui-fleet.png")

    # A cluster page.
    await page.goto(f"{server.url}/clusters/{cluster.name}/")
    for heading in ("拓扑", "升级", "最近的升级任务", "故障演练"):
        assert await page.get_by_role("heading", name=heading, exact=True).count() >= 1, heading
    recent = await page.locator("[data-live-region=recent-runs]").inner_text()
    assert shanghai(dag.created_at) in recent and "成功" in recent
    await screenshot(page, "chinese-ui-cluster.png")

    # The run page: the server's words and the scripts' words, times in +08:00 whatever the browser's zone.
    await page.goto(f"{server.url}/runs/{dag.pk}/")
    await page.wait_for_function(
        "() => document.querySelector('[data-role=start-time]').textContent !== '—'", timeout=DEADLINE_MS
    )
    started = await page.locator("[data-role=start-time]").inner_text()
    assert started == shanghai(dag.start_time, "%Y-%m-%d %H:%M:%S") + " +08:00", started
    assert (await page.locator("[data-role=dag-state]").inner_text()).endswith("成功")
    assert "第 " in await page.locator("[data-role=progress-text]").inner_text()
    assert await page.locator("[data-role=eta]").inner_text() == "已结束"
    legend = await page.locator(".legend").inner_text()
    assert "待执行" in legend and "运行中" in legend
    first = page.locator(".node").first
    await first.locator(".node-head").click()
    assert "个 agent" in await first.locator(".node-agents").inner_text()
    node_start = await first.locator(".node-head .node-start").inner_text()
    node = await dag.nodes.order_by("seq").afirst()
    assert node_start == shanghai(node.start_time, "%H:%M:%S")
    await screenshot(page, "chinese-ui-run.png")
    await screenshot(page, "chinese-ui-run-header.png", page.locator(".run-header"))

    # The campaigns list and a campaign: waves, canary, estimated end and the actions in Chinese.
    await page.goto(f"{server.url}/campaigns/")
    assert await page.locator("h1").inner_text() == "批量升级"
    head = await page.locator("table thead").inner_text()
    assert "目标" in head and "已完成" in head and "预计完成时间" in head
    await screenshot(page, "chinese-ui-campaigns.png")
    await page.get_by_role("link", name="季度升级").click()
    await page.wait_for_url(f"**/campaigns/{campaign.pk}/")
    await page.wait_for_selector("[data-live-region=campaign-grid]")
    for heading in ("操作", "各批次的集群", "审计"):
        assert await page.get_by_role("heading", name=heading, exact=True).count() == 1, heading
    summary = await page.locator(".campaign-summary").inner_text()
    assert "草稿" in summary and "批次" in summary and "预计完成时间" in summary and "观察期" in summary
    assert "灰度批次" in await page.locator("[data-wave='0'] th").inner_text()
    assert "待执行" in await page.locator("[data-cluster='shanghai-01'] .cell-state").inner_text()
    assert await page.get_by_role("button", name="开始", exact=True).count() == 1
    await screenshot(page, "chinese-ui-campaign.png")
    assert errors == []
