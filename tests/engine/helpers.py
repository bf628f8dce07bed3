"""Shared setup for engine tests: package rows for a planned upgrade, starting upgrades through the real
planner, and the invariants every test checks on the event stream."""

import time
from pathlib import Path

import upgrades.planning
from tests.support.factories import make_package_row
from upgrades.audit import Actor
from upgrades.models import DagEvent
from upgrades.models.cluster import REQUIRED_PACKAGES
from upgrades.services.dags import upgrade_start

TARGET_VERSION = "4.3.0.1"
TARGET_RELEASE = "101000062023110109.el7"
TARGET_BUILD_VERSION = "4.3.0.1_101000062023110109"
BARRIER_VERSION = "4.2.1.2"
BARRIER_RELEASE = "101000012023121215.el7"
TWO_HOP_FROM = ("4.2.0.0", "100000152023080109")


DEP_YAML = Path(upgrades.planning.__file__).parent / "depfiles" / "oceanbase_upgrade_dep.yml"


def dep_yaml():
    return DEP_YAML.read_text()


def add_package(name, version, release_distribution, arch="x86_64", yaml_text=""):
    return make_package_row(name, version, release_distribution, arch, yaml_text)


def add_target_packages(edition="community", *, barrier=False):
    """The target's packages (the main one carries the dep file) and, with barrier=True, the 4.2.1.2 hop's."""
    names = REQUIRED_PACKAGES[edition]
    for i, name in enumerate(names):
        add_package(name, TARGET_VERSION, TARGET_RELEASE, yaml_text=dep_yaml() if i == 0 else "")
        if barrier:
            add_package(name, BARRIER_VERSION, BARRIER_RELEASE)


def start(cluster, *, mode="ROLLING", actor=None, reason="test upgrade", **kw):
    return upgrade_start(
        cluster=cluster,
        version=TARGET_VERSION,
        release=TARGET_RELEASE,
        mode=mode,
        actor=actor or Actor.system("test"),
        reason=reason,
        **kw,
    )


def assert_gapless_events(dag):
    """Every DAG's event stream starts at 1, has no gap, and last_seq points at its end."""
    dag.refresh_from_db()
    seqs = list(DagEvent.objects.filter(dag=dag).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1)), "DagEvent.seq has a gap or duplicate"
    assert dag.last_seq == len(seqs)
    return seqs


def wait_until(predicate, *, timeout=20, what="condition"):
    """Poll with a deadline (never sleep for a state)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.02)


def failed_run(cluster, node_name, *, server=None, times=1, kind="fail", **start_kw):
    """Start an upgrade with a fault at `node_name` and run it until it fails there."""
    from upgrades.backends.faults import fault_inject
    from upgrades.engine.runner import run_dag_to_end

    fault_inject(cluster=cluster, node_name=node_name, server=server, kind=kind, times=times)
    dag = run_dag_to_end(start(cluster, **start_kw).pk)
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


def database_url():
    """The URL of the database this test runs on, for a child process (needs a transaction=True test)."""
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def spawn_run_worker(*, threads=1, lease_seconds=1, env=None):
    """A real `manage.py run_worker` child process on this test's database."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    child_env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "SIMULATION_SPEED": "0",
        "WORKER_LEASE_SECONDS": str(lease_seconds),
        "EMBEDDED_WORKER": "0",
        **(env or {}),
    }
    child_env.pop("REDIS_URL", None)
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_worker", "--threads", str(threads)],
        cwd=root,
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
