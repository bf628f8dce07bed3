"""Engine-specific setup: the invariants every engine test checks on the event stream, failed runs, stepping
a DAG, worker loops in a thread and `run_worker` child processes. Builds, package rows, starting upgrades and
waiting come from tests/support/."""

from tests.support.dags import start_upgrade
from tests.support.live_server import child_environment
from tests.support.paths import PROJECT_ROOT
from upgrades.models import DagEvent


def assert_gapless_events(dag):
    """Every DAG's event stream starts at 1, has no gap, and last_seq points at its end."""
    dag.refresh_from_db()
    seqs = list(DagEvent.objects.filter(dag=dag).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1)), "DagEvent.seq has a gap or duplicate"
    assert dag.last_seq == len(seqs)
    return seqs


def failed_run(cluster, build, node_name, *, server=None, times=1, kind="fail", **start_kw):
    """Start an upgrade to `build` with a fault at `node_name` and run it until it fails there."""
    from upgrades.backends.faults import fault_inject
    from upgrades.engine.runner import run_dag_to_end

    fault_inject(cluster=cluster, node_name=node_name, server=server, kind=kind, times=times)
    dag = run_dag_to_end(start_upgrade(cluster, build, **start_kw).pk)
    assert dag.state == "FAILED", dag.state
    assert dag.nodes.get(seq=dag.stage).name == node_name
    return dag


def step_until(dag, predicate, *, limit=10_000):
    """Drive the DAG with an in-process worker one step at a time until predicate(dag) holds."""
    from upgrades.engine.worker import Worker

    worker = Worker(name="test-steps", dag_ids=[dag.pk], chain=False)
    for _ in range(limit):
        dag.refresh_from_db()
        if predicate(dag):
            return dag
        worker.step()
    raise AssertionError("predicate never held")


class BackgroundWorker:
    """A worker loop in a thread of this process (tests marked django_db(transaction=True))."""

    def __init__(self, *, dag_ids=None, name="bg"):
        import threading

        from upgrades.engine.worker import Worker

        self.stop = threading.Event()
        self.worker = Worker(name=name, dag_ids=dag_ids, stop_event=self.stop)
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self):
        from django.db import connections

        try:
            self.worker.run_forever()
        finally:
            connections.close_all()

    def __enter__(self):
        self.thread.start()
        return self.worker

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the background worker did not stop"


def spawn_run_worker(*, threads=1, lease_seconds=1, env=None):
    """A real `manage.py run_worker` child process on this test's database."""
    import os
    import subprocess
    import sys

    child_env = {
        **os.environ,
        **child_environment(SIMULATION_SPEED=0, WORKER_LEASE_SECONDS=lease_seconds, EMBEDDED_WORKER=0),
        **(env or {}),
    }
    child_env.pop("REDIS_URL", None)
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_worker", "--threads", str(threads)],
        cwd=PROJECT_ROOT,
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
