"""The run page in real Chromium against a daphne child process running the embedded worker."""

import pytest

from tests.browser.helpers import closing_db_connections, screenshot, signed_in_page
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster, make_user
from tests.support.packages import stock_packages
from upgrades.audit import Actor
from upgrades.backends.faults import fault_inject
from upgrades.models import AuditEntry
from upgrades.services.dag_operators import dag_operate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Step durations are divided by the speed (a 3-zone rolling upgrade takes ~70 s at 1): ~9 s per run here.
SPEED = 8
DEADLINE_MS = 90_000

# Records every value each stage's data-node-state takes, in order, and the document's identity.
RECORDER = """
window.__docId = Math.random();
window.__nodeStates = {};
const record = () => {
  for (const el of document.querySelectorAll('[data-node-state]')) {
    const seen = (window.__nodeStates[el.dataset.nodeId] ||= []);
    if (seen[seen.length - 1] !== el.dataset.nodeState) seen.push(el.dataset.nodeState);
  }
};
document.addEventListener('DOMContentLoaded', () => {
  record();
  new MutationObserver(record).observe(document.body, {subtree: true, childList: true, attributes: true,
    attributeFilter: ['data-node-state']});
});
"""


@pytest.fixture
def server(live_server_factory):
    return live_server_factory(
        EMBEDDED_WORKER=1, EMBEDDED_WORKER_THREADS=3, SIMULATION_SPEED=SPEED, WORKER_LEASE_SECONDS=2, DEBUG=0
    )


@pytest.fixture
def operator():
    return make_user("operator")


@pytest.fixture
def cluster():
    stock_packages(TARGET)
    return make_cluster(zones=3)


async def open_run_page(browser, server, user, dag):
    page, errors = await signed_in_page(browser, server, user, init_script=RECORDER)
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    await page.goto(f"{server.url}/runs/{dag.pk}/")
    return page, navigations, errors


async def wait_dag_state(page, state, timeout=DEADLINE_MS):
    await page.wait_for_function(
        "state => document.getElementById('run').dataset.dagState === state", arg=state, timeout=timeout
    )


async def page_matches_database(page, dag):
    dag.refresh_from_db()
    seen = await page.evaluate(
        """() => ({
          dag: document.getElementById('run').dataset.dagState,
          seq: Number(document.getElementById('run').dataset.dagSeq),
          nodes: Object.fromEntries([...document.querySelectorAll('[data-node-state]')]
                   .map(el => [el.dataset.nodeId, el.dataset.nodeState])),
        })"""
    )
    expected_nodes = {str(node.pk): node.state for node in dag.nodes.all()}
    return seen == {"dag": dag.state, "seq": dag.last_seq, "nodes": expected_nodes}, seen


@closing_db_connections
async def test_stages_turn_from_pending_to_running_to_succeeded_without_reload(browser, server, cluster, operator):
    dag = start_upgrade(cluster, TARGET, actor=Actor.for_user(operator), reason="browser test: rolling upgrade")
    page, navigations, errors = await open_run_page(browser, server, operator, dag)
    doc_id = await page.evaluate("window.__docId")
    await page.wait_for_selector("[data-conn=live]")
    await page.wait_for_selector(".node[data-node-state=RUNNING]", timeout=DEADLINE_MS)
    await screenshot(page, "run-page-mid-run.png")
    await wait_dag_state(page, "SUCCEED")
    await page.wait_for_function(
        "() => document.querySelectorAll('[data-node-state]:not([data-node-state=SUCCEED])').length === 0"
    )
    await screenshot(page, "run-page-succeeded.png")

    histories = await page.evaluate("window.__nodeStates")
    assert len(histories) == dag.nodes.count()
    full_cycles = [h for h in histories.values() if h[:1] == ["PENDING"] and h[-1] == "SUCCEED" and "RUNNING" in h]
    # Stages that were still pending when the page loaded were seen running and then succeeding, live.
    assert len(full_cycles) >= len(histories) // 2, histories
    for history in histories.values():
        assert history[-1] == "SUCCEED"
        assert history.index("SUCCEED") > (history.index("RUNNING") if "RUNNING" in history else -1)
    assert await page.evaluate("window.__docId") == doc_id
    assert navigations == [f"{server.url}/runs/{dag.pk}/"]
    assert await page.evaluate("performance.getEntriesByType('navigation').length") == 1
    matches, seen = await page_matches_database(page, dag)
    assert matches, seen
    assert errors == []


@closing_db_connections
async def test_a_failure_is_shown_and_retry_with_a_reason_finishes_the_run(browser, server, cluster, operator):
    fault_inject(cluster=cluster, node_name="Stop zone2", times=1, actor=Actor.system("test"))
    dag = start_upgrade(cluster, TARGET, actor=Actor.for_user(operator), reason="browser test: failure and retry")
    page, navigations, errors = await open_run_page(browser, server, operator, dag)
    await wait_dag_state(page, "FAILED")
    failed = page.locator(".node[data-node-state=FAILED]")
    await failed.locator(".node-error").wait_for(state="visible")  # opened by default, with its error
    assert "stop zone timeout" in await failed.locator(".node-error").inner_text()
    assert "Failed" in await failed.locator(".node-head").inner_text()  # text, not colour alone
    await failed.locator(".subtask-head").first.click()
    log = failed.locator("pre.log")
    await log.wait_for(state="visible")
    assert "ERROR: [OB.Cluster.AsyncOperationTimeout]: stop zone timeout" in await log.inner_text()
    download = failed.locator(".log-tools a", has_text="Download")
    assert "/subtasks/" in await download.get_attribute("href")
    await page.keyboard.press("l")  # locate the current stage: focus lands on the failed node
    assert await page.evaluate("document.activeElement.closest('.node').dataset.nodeState") == "FAILED"
    retry = page.locator("[data-action=retry]")
    await retry.wait_for(state="visible")
    assert await page.locator("[data-action=cancel]").is_hidden()
    await screenshot(page, "run-page-failed.png")

    await retry.click()
    dialog = page.locator("dialog[data-role=confirm]")
    await dialog.wait_for(state="visible")
    assert "Stop zone2" in await dialog.inner_text()
    await dialog.locator("[data-role=confirm-submit]").click()  # without a reason: refused in the page
    await dialog.locator("[data-role=confirm-error]").wait_for(state="visible")
    await dialog.locator("textarea").fill("zone2 was slow; retrying after checking the host")
    await screenshot(page, "run-page-retry-dialog.png")
    await dialog.locator("[data-role=confirm-submit]").click()
    await dialog.wait_for(state="hidden")
    await wait_dag_state(page, "SUCCEED")
    await screenshot(page, "run-page-retried.png")

    entry = AuditEntry.objects.get(action="dag.operate", dag=dag, outcome="ok")
    assert entry.reason == "zone2 was slow; retrying after checking the host"
    assert entry.actor_user_id == operator.pk
    assert len(navigations) == 1
    matches, seen = await page_matches_database(page, dag)
    assert matches, seen
    assert errors == []


@closing_db_connections
async def test_the_page_reconnects_after_a_server_restart_and_converges(browser, server, cluster, operator):
    """The server goes away mid-run; while it is down the run is cancelled from elsewhere (another process
    writing the database); when the server is back the page reconnects by itself and shows the database."""
    fault_inject(cluster=cluster, node_name="Backup for upgrade", kind="hang", actor=Actor.system("test"))
    dag = start_upgrade(cluster, TARGET, actor=Actor.for_user(operator), reason="browser test: server restart")
    page, navigations, errors = await open_run_page(browser, server, operator, dag)
    await page.wait_for_selector("[data-conn=live]")
    hanging = page.locator(".node", has_text="Backup for upgrade")
    await hanging.and_(page.locator("[data-node-state=RUNNING]")).wait_for(timeout=DEADLINE_MS)
    seq_before = int(await page.locator("#run").get_attribute("data-dag-seq"))

    server.stop()
    await page.wait_for_selector("[data-conn=reconnecting], [data-conn=stale]")
    assert "stale since" in (await page.locator("[data-role=connection]").inner_text()).lower()
    await screenshot(page, "run-page-reconnecting.png")
    dag_operate(dag=dag, operator="CANCEL", actor=Actor.for_user(operator), reason="maintenance window closed")
    dag.refresh_from_db()
    assert dag.last_seq > seq_before and dag.state == "FAILED"

    server.start()
    await page.wait_for_selector("[data-conn=live]", timeout=DEADLINE_MS)
    await wait_dag_state(page, "FAILED")
    await page.wait_for_function(
        "seq => Number(document.getElementById('run').dataset.dagSeq) === seq", arg=dag.last_seq, timeout=DEADLINE_MS
    )
    await screenshot(page, "run-page-after-restart.png")
    matches, seen = await page_matches_database(page, dag)
    assert matches, seen
    assert "Cancelled" in await page.locator("[data-role=dag-state]").inner_text()
    assert len(navigations) == 1
    assert errors == []


@closing_db_connections
async def test_after_a_failed_rollback_retry_warns_and_continue_rollback_finishes(browser, server, cluster, operator):
    fault_inject(cluster=cluster, node_name="Unpack all required packages", actor=Actor.system("test"))
    fault_inject(
        cluster=cluster, node_name="Check all required packages", kind="fail_rollback", actor=Actor.system("test")
    )
    dag = start_upgrade(cluster, TARGET, actor=Actor.for_user(operator), reason="browser test: failed rollback")
    page, navigations, errors = await open_run_page(browser, server, operator, dag)
    await wait_dag_state(page, "FAILED")
    dag_operate(dag=dag, operator="ROLLBACK", actor=Actor.for_user(operator), reason="wrong target")
    proceed = page.locator("[data-action=continue_rollback]")
    await proceed.wait_for(state="visible", timeout=DEADLINE_MS)
    assert await page.locator("[data-action=rollback]").is_hidden()

    await page.locator("[data-action=retry]").click()
    dialog = page.locator("dialog[data-role=confirm]")
    await dialog.wait_for(state="visible")
    warning = dialog.locator("[data-role=confirm-warning]")
    assert await warning.is_visible()
    text = await warning.inner_text()
    assert text.startswith("Warning: this run failed while rolling back.")
    assert "“5. Unpack all required packages”" in text and "Continue rollback" in text
    await screenshot(page, "run-page-retry-after-failed-rollback.png")
    await dialog.locator("[data-role=confirm-cancel]").click()
    await dialog.wait_for(state="hidden")

    await proceed.click()
    await dialog.wait_for(state="visible")
    assert await warning.is_hidden()
    assert "Check all required packages" in await dialog.locator("[data-role=confirm-text]").inner_text()
    await dialog.locator("textarea").fill("the packages directory is free again")
    await screenshot(page, "run-page-continue-rollback-dialog.png")
    await dialog.locator("[data-role=confirm-submit]").click()
    await dialog.wait_for(state="hidden")
    await wait_dag_state(page, "SUCCEED")
    await screenshot(page, "run-page-rolled-back.png")

    entry = AuditEntry.objects.get(action="dag.continue_rollback", dag=dag)
    assert (entry.outcome, entry.reason, entry.actor_user_id) == (
        "ok",
        "the packages directory is free again",
        operator.pk,
    )
    assert len(navigations) == 1
    assert errors == []
