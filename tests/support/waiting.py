"""Waiting for a state: poll with a deadline, never sleep for a fixed time.

`wait_until` is the one polling loop of the test suite; the helpers below name the states tests wait for.
"""

import time

DEFAULT_TIMEOUT = 20
DEFAULT_INTERVAL = 0.02


def wait_until(predicate, *, timeout=DEFAULT_TIMEOUT, interval=DEFAULT_INTERVAL, what="condition"):
    """Call `predicate` every `interval` seconds until it returns something truthy, and return that; raise
    AssertionError naming `what` once `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def wait_until_running(dag_id, node_name, *, timeout=60):
    """Until a worker (in this process or a server child) is inside `node_name` of the DAG, e.g. a hanging
    step."""
    from upgrades.models import SubTask

    return wait_until(
        lambda: SubTask.objects.filter(dag_id=dag_id, node__name=node_name, state="RUNNING").exists(),
        timeout=timeout,
        interval=0.05,
        what=f"DAG {dag_id} to reach {node_name!r}",
    )


def wait_for_idle_engine(*, timeout=60):
    """Until no DAG is READY or RUNNING and no sub-task is leased: a server's engine threads must have nothing
    in flight before the test database is flushed, or their writes race the flush."""
    from upgrades.models import Dag, SubTask

    def idle():
        return not (
            Dag.objects.filter(state__in=("READY", "RUNNING")).exists()
            or SubTask.objects.filter(state__in=("READY", "RUNNING")).exclude(lease_owner="").exists()
        )

    return wait_until(idle, timeout=timeout, interval=0.05, what="the server's engine to be idle")
