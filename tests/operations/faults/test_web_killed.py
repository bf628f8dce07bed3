"""A web process killed (SIGKILL) while two watchers follow a run through the front: the one it served
reconnects through the front to the other web process and catches up from its last seq; both end on the
database's stream, gapless. tests/browser/test_scaled_faults.py shows the same with Chromium."""

import asyncio

import pytest

from tests.support.scaled import DagWatcher, ScaledProfile, require_private_services, wait

pytestmark = [pytest.mark.postgres, pytest.mark.faults]


async def test_the_watcher_of_a_killed_web_process_reconnects_to_the_other_and_catches_up():
    require_private_services()
    with ScaledProfile(webs=2, workers=1, worker_threads=2, SIMULATION_SPEED=6) as profile:
        run = await asyncio.to_thread(profile.start_run)
        watchers = []
        try:
            # One after the other, so the front hands them to different web processes (round-robin).
            for _ in range(2):
                watcher = DagWatcher(profile.front.ws_url, run, profile.front.url).start()
                watchers.append(watcher)
                await watcher.wait_for(lambda w=watcher: w.seq > 0, timeout=30, what="the first snapshot")

            def mid_run():
                state, stage, max_stage, _ = profile.dag(run["dag_id"])
                return state == "RUNNING" and 3 <= stage < max_stage - 5

            await wait(mid_run, timeout=60, what="the run to be under way")
            await asyncio.to_thread(profile.webs[0].kill)
            seq_at_kill = profile.dag(run["dag_id"])[3]

            await wait(
                lambda: profile.dag(run["dag_id"])[0] in ("SUCCEED", "FAILED"), timeout=120, what="the run to end"
            )
            state, _, _, last_seq = profile.dag(run["dag_id"])
            assert state == "SUCCEED"
            assert last_seq > seq_at_kill + 10, "the kill came too late in the run to show anything"
            for watcher in watchers:
                await watcher.wait_for(
                    lambda w=watcher: w.seq == last_seq and w.state == "SUCCEED",
                    timeout=60,
                    what="the watcher to reach the end of the stream",
                )
                assert watcher.errors == []
                events = [seq for seq in watcher.seqs if isinstance(seq, int)]
                assert events == list(range(events[0], last_seq + 1)), "a watcher missed or repeated events"
            # Exactly one of them was on the killed process and reconnected (to the survivor: web 1 is dead).
            assert sorted(w.connections for w in watchers) == [1, 2]
            assert not profile.webs[0].alive and profile.webs[1].alive
        finally:
            for watcher in watchers:
                await watcher.stop()
