"""The run page in Chromium: an ETA and per-stage expected durations appearing from the history of finished runs
and following the run live (no history says so), and a #log-<id> link that opens the line's stage and sub-task
and highlights the line, also when reached from the run's log search."""

import re
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from tests.browser.helpers import closing_db_connections, screenshot, signed_in_page
from tests.live.helpers import append_log, make_dag, set_node_state
from tests.support.factories import make_cluster, make_user
from tests.support.history import done, finished_run
from upgrades.events import emit
from upgrades.models import Node, SubTask, TaskLog
from upgrades.operations.durations import refresh_step_durations
from upgrades.snapshots import node_payload

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DEADLINE_MS = 30_000


@pytest.fixture
def server(live_server_factory):
    # No worker: the test moves the run itself; a short heartbeat brings the test process's events to the page.
    return live_server_factory(EMBEDDED_WORKER=0, DEBUG=0, settings={"LIVE_HEARTBEAT_SECONDS": 0.3})


def start_node(node_id):
    with transaction.atomic():
        node = Node.objects.get(pk=node_id)
        node.state = "RUNNING"
        node.start_time = timezone.now() - timedelta(seconds=10)
        node.save(update_fields=["state", "start_time"])
        emit(node.dag_id, "node.updated", {"node": node_payload(node)})


@closing_db_connections
async def test_an_eta_appears_from_history_and_follows_the_run(browser, server):
    cluster = make_cluster(zones=3)
    # Five finished runs where check_python (every stage of make_dag's runs) took 40 s.
    for _ in range(5):
        finished_run(cluster, servers=3, steps=[done("check_python", 40)])
    refresh_step_durations()
    dag = make_dag(nodes=3, cluster=cluster)
    first, second, third = Node.objects.filter(dag=dag).order_by("seq")
    new_kind = make_dag(nodes=2, cluster=cluster)
    Node.objects.filter(dag=new_kind).update(action="install_obshell")  # never finished before

    page, errors = await signed_in_page(browser, server, make_user("viewer"))
    await page.goto(f"{server.url}/runs/{dag.pk}/")
    await page.wait_for_selector("[data-conn=live]")
    eta = page.locator("[data-role=eta]")
    assert await eta.get_attribute("data-eta") == "estimate"
    assert re.fullmatch(r"about 2m 00s left · finishes around \d\d:\d\d:\d\d", await eta.inner_text())
    assert await page.inner_text(f"#node-{third.pk} [data-role=expected]") == "usually 40s"

    # Live: the first stage succeeds, the second has run for 10 s.
    set_node_state(first.pk, "SUCCEED")
    start_node(second.pk)
    await page.wait_for_function(
        "() => /^about 1m [01]\\ds left/.test(document.querySelector('[data-role=eta]').textContent)",
        timeout=DEADLINE_MS,
    )
    before = await eta.inner_text()
    await page.wait_for_function(  # it keeps counting down between events
        "before => document.querySelector('[data-role=eta]').textContent !== before", arg=before, timeout=DEADLINE_MS
    )
    await screenshot(page, "run-page-eta.png")
    await screenshot(page, "run-page-eta-header.png", page.locator(".run-header"))

    await page.goto(f"{server.url}/runs/{new_kind.pk}/")
    await page.wait_for_selector("[data-conn=live]")
    assert await eta.get_attribute("data-eta") == "no_history"
    assert await eta.inner_text() == "no estimate yet: 2 stages still to run never finished before"
    assert await page.locator("[data-role=expected]", has_text="no history").count() == 2
    await screenshot(page, "run-page-no-estimate.png", page.locator(".run-header"))
    assert errors == []
    await page.context.close()


@closing_db_connections
async def test_a_log_deep_link_opens_its_sub_task_and_highlights_the_line(browser, server):
    dag = make_dag(nodes=3)
    second = Node.objects.get(dag=dag, seq=2)
    task = SubTask.objects.filter(node=second).order_by("id").last()
    # Old enough that the sub-task's newest page (500 lines) would not hold it, in a retried sub-task.
    TaskLog.objects.bulk_create(
        [TaskLog(sub_task=task, execute_times=1, text=f"first attempt line {n}") for n in range(300)]
        + [TaskLog(sub_task=task, execute_times=2, text=f"retry line {n}") for n in range(600)]
    )
    SubTask.objects.filter(pk=task.pk).update(execute_times=2)
    append_log(task.pk, "the needle: checksum mismatch on 10.0.0.3", execute_times=1, level="ERROR")
    target = TaskLog.objects.get(sub_task=task, text="first attempt line 120")

    page, errors = await signed_in_page(browser, server, make_user("viewer"))
    # The top bar's search: a run's generic id opens it; a cluster name matching two clusters lists both.
    await page.goto(f"{server.url}/runs/")
    await page.fill("#topsearch-q", dag.generic_id)
    await page.press("#topsearch-q", "Enter")
    await page.wait_for_url(f"{server.url}/runs/{dag.pk}/")
    make_cluster(f"{dag.cluster.name}-dr")
    await page.fill("#topsearch-q", dag.cluster.name)
    await page.press("#topsearch-q", "Enter")
    await page.wait_for_selector("[data-hit=cluster] >> nth=1")
    assert await page.input_value("#topsearch-q") == dag.cluster.name
    await screenshot(page, "search-page.png")

    await page.goto(f"{server.url}/runs/{dag.pk}/#log-{target.pk}")
    line = page.locator(f"#log-{target.pk}")
    await line.wait_for(timeout=DEADLINE_MS)
    assert "is-target" in await line.get_attribute("class")
    assert await page.get_attribute(f"#subtask-{task.pk}-log", "hidden") is None  # the sub-task's log is open
    assert await line.is_visible()
    assert await line.evaluate(
        "el => { const r = el.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; }"
    )
    assert "first attempt line 120" in await line.inner_text()
    await page.wait_for_selector("[data-conn=live]")
    assert "is-target" in await page.get_attribute(f"#log-{target.pk}", "class")  # kept after the socket's frames
    await screenshot(page, "run-page-log-deep-link.png")

    # From the run's log search: the hit links to its line.
    await page.goto(f"{server.url}/runs/{dag.pk}/")
    await page.fill("#run-log-q", "NEEDLE")
    await page.press("#run-log-q", "Enter")
    await page.wait_for_selector("mark.hit")
    assert await page.inner_text("mark.hit") == "needle"
    await screenshot(page, "run-log-search.png")
    await page.click("[data-log-hit] a")
    needle = TaskLog.objects.get(text__startswith="the needle")
    await page.locator(f"#log-{needle.pk}.is-target").wait_for(timeout=DEADLINE_MS)
    assert errors == []
    await page.context.close()
