"""Redis restarted mid-run (scale-out profile, real processes): events resume and every watcher converges on
the database's stream without reloading. The watchers are websocket clients through the front that behave
like the run page (tests/support/scaled.py); tests/browser/test_scaled_faults.py shows the same with
Chromium."""

import asyncio

import pytest

from tests.support.scaled import DagWatcher, ScaledProfile, require_private_services, wait

pytestmark = [pytest.mark.postgres, pytest.mark.faults]


async def test_events_resume_and_every_watcher_converges_after_a_redis_restart():
    require_private_services()
    with ScaledProfile(webs=2, workers=2, SIMULATION_SPEED=6) as profile:
        run = await asyncio.to_thread(profile.start_run)
        watchers = [DagWatcher(profile.front.ws_url, run, profile.front.url).start() for _ in range(2)]
        try:
            for watcher in watchers:
                await watcher.wait_for(lambda w=watcher: w.seq > 0, timeout=30, what="the first snapshot")

            def mid_run():
                state, stage, max_stage, _ = profile.dag(run["dag_id"])
                return state == "RUNNING" and 3 <= stage < max_stage - 5

            await wait(mid_run, timeout=60, what="the run to be under way")
            await asyncio.to_thread(profile.redis.kill)
            seq_at_restart = profile.dag(run["dag_id"])[3]
            await asyncio.to_thread(profile.redis.restart)

            await wait(
                lambda: profile.dag(run["dag_id"])[0] in ("SUCCEED", "FAILED"), timeout=120, what="the run to end"
            )
            state, _, _, last_seq = profile.dag(run["dag_id"])
            assert state == "SUCCEED"
            assert last_seq > seq_at_restart + 10, "the fault came too late in the run to show anything"
            for watcher in watchers:
                await watcher.wait_for(
                    lambda w=watcher: w.seq == last_seq and w.state == "SUCCEED",
                    timeout=60,
                    what="the watcher to reach the end of the stream",
                )
                assert watcher.errors == []
                events = [seq for seq in watcher.seqs if isinstance(seq, int)]
                assert events == list(range(events[0], last_seq + 1)), "a watcher missed or repeated events"
        finally:
            for watcher in watchers:
                await watcher.stop()
