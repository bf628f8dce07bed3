"""The run page marks a stage stalled (node.stalled, from the workers' periodic stall check) live, with how long
it has run and how long it usually takes, and drops the mark when the stage stops running."""

import re

import pytest

from tests.browser.helpers import closing_db_connections, screenshot, signed_in_page
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster, make_user
from tests.support.history import done, finished_run
from tests.support.packages import stock_packages
from upgrades.audit import Actor
from upgrades.backends.faults import fault_inject
from upgrades.models import Fault, Node
from upgrades.operations.durations import refresh_step_durations
from upgrades.services.dag_operators import dag_operate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DEADLINE_MS = 30_000


@closing_db_connections
async def test_a_hanging_stage_is_marked_stalled_live_and_unmarked_when_cancelled(browser, live_server_factory):
    stock_packages(TARGET)
    cluster = make_cluster(zones=3)
    dag = start_upgrade(cluster, TARGET, reason="browser test: a stage hangs")
    first = Node.objects.get(dag=dag, seq=1)
    # One agent's step hangs; the other worker thread stays free to run the periodic stall check.
    fault_inject(cluster=cluster, node_name=first.name, server=first.sub_tasks.first().server, kind=Fault.Kind.HANG)
    # Five finished runs where this stage took about 1.5 s.
    for seconds in (1.0, 1.2, 1.5, 1.7, 2.0):
        finished_run(cluster, servers=dag.server_count, steps=[done(first.action, seconds)])
    refresh_step_durations()
    server = live_server_factory(
        EMBEDDED_WORKER=1, EMBEDDED_WORKER_THREADS=2, SIMULATION_SPEED=0, STALL_MIN_SECONDS=0, DEBUG=0
    )

    page, errors = await signed_in_page(browser, server, make_user("operator"))
    await page.goto(f"{server.url}/runs/{dag.pk}/")
    await page.wait_for_selector("[data-conn=live]")

    mark = page.locator(f"#node-{first.pk} [data-role=stall]")
    await mark.wait_for(timeout=DEADLINE_MS)
    text = await mark.inner_text()
    assert re.fullmatch(r"⚠ stalled: running \d+\.\ds, usually 1\.5s", text), text
    assert await page.get_attribute(f"#node-{first.pk}", "data-stalled") == "true"
    assert "5 finished runs" in await mark.get_attribute("title")
    # Its expected duration is shown beside it; the stages after it never finished before, so no ETA yet.
    assert await page.inner_text(f"#node-{first.pk} [data-role=expected]") == "usually 1.5s"
    assert await page.get_attribute("[data-role=eta]", "data-eta") == "no_history"
    # Only the stalled stage has a mark, and no stage head shows anything else new.
    assert await page.locator("[data-role=stall]").count() == 1
    second = await page.inner_text(f"#node-{Node.objects.get(dag=dag, seq=2).pk} .node-head")
    assert "stalled" not in second and "null" not in second
    # The running time goes on ticking.
    await page.wait_for_function(
        "([id, before]) => document.querySelector(`#node-${id} [data-role=stall-text]`).textContent !== before",
        arg=[first.pk, text.removeprefix("⚠ ")],
    )
    await screenshot(page, "run-page-stalled.png")
    await screenshot(page, "run-page-stalled-stage.png", page.locator(f"#node-{first.pk}"))

    # A page opened now gets the stall from the snapshot.
    fresh = await page.context.new_page()
    await fresh.goto(f"{server.url}/runs/{dag.pk}/")
    await fresh.locator(f"#node-{first.pk} [data-role=stall]").wait_for()

    dag_operate(dag=dag, operator="CANCEL", actor=Actor.system("test"), reason="browser test: stop the hang")
    await page.wait_for_function(
        "id => document.getElementById(`node-${id}`).dataset.stalled === 'false'", arg=first.pk, timeout=DEADLINE_MS
    )
    assert await mark.count() == 0
    assert errors == []
    await page.context.close()
