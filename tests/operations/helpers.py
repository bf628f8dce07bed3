"""Helpers for the operations tests: a free port, a real `run_worker` child, a scrape parsed into samples."""

import os
import socket
import subprocess
import sys

from prometheus_client.parser import text_string_to_metric_families

from tests.support.live_server import child_environment
from tests.support.paths import PROJECT_ROOT


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def spawn_run_worker(*args, env=None):
    """A real `manage.py run_worker` process on this test's database (transactional tests only)."""
    child_env = {
        **os.environ,
        **child_environment(SIMULATION_SPEED=0, WORKER_LEASE_SECONDS=1, EMBEDDED_WORKER=0),
        **(env or {}),
    }
    child_env.pop("REDIS_URL", None)
    child_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_worker", *args],
        cwd=PROJECT_ROOT,
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def samples(text):
    """{(sample name, sorted label items): value} of a Prometheus text exposition (parsing it proves it is one)."""
    parsed = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            parsed[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return parsed


def value(parsed, name, **labels):
    return parsed.get((name, tuple(sorted(labels.items()))), 0.0)
