"""PostgreSQL connections cut (pg_terminate_backend), then the private server stopped for longer than a lease
and started again, mid-run on the scale-out profile: the workers back off and resume, nothing is reaped for
the outage (the reaper waits a full lease after the database returns, and the steps' own workers renew their
leases within it), and no step fails from it."""

import time

import pytest

from tests.support.scaled import ScaledProfile, require_private_services
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.faults]

LEASE = 3
# Longer than a lease: every lease held when the server stops has expired when it is back.
OUTAGE = LEASE + 2


def test_workers_ride_out_cut_connections_and_a_server_restart():
    require_private_services()
    with ScaledProfile(webs=1, workers=2, worker_threads=2, SIMULATION_SPEED=5, WORKER_LEASE_SECONDS=LEASE) as profile:
        dag_id = profile.start_run()["dag_id"]

        def running_step():
            return profile.query(
                "SELECT count(*) FROM upgrades_subtask WHERE dag_id = %s AND state = 'RUNNING'", dag_id
            )[0][0]

        wait_until(lambda: profile.dag(dag_id)[1] >= 3 and running_step(), timeout=60, what="a step under way")
        stage_before_cut = profile.dag(dag_id)[1]
        assert profile.postgres.terminate_connections() > 0
        wait_until(lambda: profile.dag(dag_id)[1] > stage_before_cut, timeout=30, what="the run to go on after the cut")

        wait_until(running_step, timeout=30, what="a step under way before the restart")
        held = profile.query(
            "SELECT id, lease_owner FROM upgrades_subtask WHERE dag_id = %s AND state = 'RUNNING'", dag_id
        )
        profile.postgres.stop()
        down_at = time.monotonic()
        time.sleep(OUTAGE)  # the fault itself: the server stays away for longer than a lease
        profile.postgres.start()
        profile.postgres.wait_ready()
        assert time.monotonic() - down_at > LEASE

        wait_until(lambda: profile.dag(dag_id)[0] in ("SUCCEED", "FAILED"), timeout=120, what="the run to end")
        state, stage, max_stage, last_seq = profile.dag(dag_id)
        assert (state, stage) == ("SUCCEED", max_stage)

        # Nothing was reaped or re-entered, nothing failed: each step ran once, to success, under one owner.
        assert profile.query(
            "SELECT count(*) FROM upgrades_subtask WHERE dag_id = %s AND (state <> 'SUCCEED' OR execute_times <> 1)",
            dag_id,
        ) == [(0,)]
        suspicious = profile.query(
            "SELECT l.text FROM upgrades_tasklog l JOIN upgrades_subtask s ON s.id = l.sub_task_id "
            "WHERE s.dag_id = %s AND (l.level = 'ERROR' OR l.text LIKE %s OR l.text LIKE %s OR l.text LIKE %s)",
            dag_id,
            "%stopped while running%",
            "%unexpectedly interrupted%",
            "%continued after its executor restarted%",
        )
        assert suspicious == []
        assert held, "no step was running when the server stopped"
        for sub_task_id, owner in held:
            (finished_by,) = profile.query(
                "SELECT count(*) FROM upgrades_dagevent WHERE dag_id = %s AND kind = 'subtask.updated' "
                "AND payload -> 'sub_task' ->> 'id' = %s AND payload -> 'sub_task' ->> 'state' = 'RUNNING'",
                dag_id,
                str(sub_task_id),
            )[0]
            assert finished_by == 1, f"sub-task {sub_task_id} (held by {owner}) was started more than once"
        seqs = profile.query("SELECT seq FROM upgrades_dagevent WHERE dag_id = %s ORDER BY seq", dag_id)
        assert [seq for (seq,) in seqs] == list(range(1, last_seq + 1))

        # The workers saw the outage, backed off, and deferred the reaper when the database came back.
        worker_logs = "".join(worker.log_path.read_text() for worker in profile.workers)
        assert "database unreachable" in worker_logs
        assert "the lease reaper waits" in worker_logs
        assert all(worker.alive and worker.starts == 1 for worker in profile.workers)
