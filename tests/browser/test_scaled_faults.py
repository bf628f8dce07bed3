"""Two Chromium pages watch a run through the front of the scale-out profile (real processes on a private
PostgreSQL and Redis, tests/support/scaled.py) while Redis is restarted and then a web process is killed: both
pages converge on the database's end state by themselves, without a reload."""

import asyncio

import pytest

from tests.browser.helpers import screenshot
from tests.support.scaled import ScaledProfile, require_private_services, wait

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DEADLINE_MS = 90_000


async def open_page(browser, profile, run):
    context = await browser.new_context(viewport={"width": 1366, "height": 900})
    await context.add_cookies([{"name": "sessionid", "value": run["sessionid"], "url": profile.front.url}])
    page = await context.new_page()
    navigations, errors = [], []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(f"{profile.front.url}/runs/{run['dag_id']}/")
    await page.wait_for_selector("[data-conn=live]")
    return page, navigations, errors


async def page_state(page):
    return await page.evaluate(
        """() => ({
          dag: document.getElementById('run').dataset.dagState,
          seq: Number(document.getElementById('run').dataset.dagSeq),
          unfinished: document.querySelectorAll('[data-node-state]:not([data-node-state=SUCCEED])').length,
        })"""
    )


async def test_pages_converge_through_a_redis_restart_and_a_killed_web_process(browser):
    require_private_services()
    with ScaledProfile(webs=2, workers=2, SIMULATION_SPEED=4) as profile:
        run = await asyncio.to_thread(profile.start_run)
        dag_id = run["dag_id"]
        pages = [await open_page(browser, profile, run) for _ in range(2)]

        def at_stage(low):
            def check():
                state, stage, max_stage, _ = profile.dag(dag_id)
                return state == "RUNNING" and low <= stage < max_stage - 5

            return check

        await wait(at_stage(3), timeout=60, what="the run to be under way")
        await asyncio.to_thread(profile.redis.kill)
        await asyncio.to_thread(profile.redis.restart)
        stage_after_redis = profile.dag(dag_id)[1]
        await wait(at_stage(stage_after_redis + 3), timeout=60, what="the run to go on after the Redis restart")
        await asyncio.to_thread(profile.webs[0].kill)
        await screenshot(pages[0][0], "scaled-faults-mid-run.png")

        await wait(lambda: profile.dag(dag_id)[0] in ("SUCCEED", "FAILED"), timeout=120, what="the run to end")
        state, _, _, last_seq = profile.dag(dag_id)
        assert state == "SUCCEED"
        for page, navigations, errors in pages:
            await page.wait_for_function(
                "seq => document.getElementById('run').dataset.dagState === 'SUCCEED'"
                " && Number(document.getElementById('run').dataset.dagSeq) === seq",
                arg=last_seq,
                timeout=DEADLINE_MS,
            )
            assert await page_state(page) == {"dag": "SUCCEED", "seq": last_seq, "unfinished": 0}
            await page.wait_for_selector("[data-conn=live]")
            assert navigations == [f"{profile.front.url}/runs/{dag_id}/"]  # never reloaded
            assert await page.evaluate("performance.getEntriesByType('navigation').length") == 1
            assert errors == []
        await screenshot(pages[0][0], "scaled-faults-converged.png")
