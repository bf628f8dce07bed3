"""Real `run_worker` processes deliver: two of them on this test's database (PostgreSQL in CI's second pass),
a receiver that refuses its first request with a 500; every event reaches it signed, exactly once, the refused
one again after its backoff."""

import json
import os
import signal
import subprocess
import sys
from collections import Counter

import pytest

from tests.notifications.helpers import SECRET, signature_ok, subscribe
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.live_server import child_environment
from tests.support.packages import stock_packages
from tests.support.paths import PROJECT_ROOT
from tests.support.waiting import wait_until
from upgrades.backends.faults import fault_inject
from upgrades.models import Delivery


def _run_worker():
    env = {
        **os.environ,
        **child_environment(
            SIMULATION_SPEED=0,
            WORKER_LEASE_SECONDS=2,
            EMBEDDED_WORKER=0,
            WEBHOOK_ALLOW_PRIVATE=1,
            DASHBOARD_URL="https://dash.example.com",
            NOTIFY_RETRY_SECONDS=1,
        ),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_worker", "--threads", "2"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_run_worker_processes_deliver_each_event_once_and_retry_a_500(receiver):
    subscribe(receiver.url("/hook"))
    receiver.answers = [(500, b"busy")]
    stock_packages(TARGET)
    good, bad = make_cluster("good"), make_cluster("bad")
    fault_inject(cluster=bad, node_name="Stop zone1", server=None, kind="fail", times=1)
    workers = [_run_worker(), _run_worker()]
    try:
        ok = start_upgrade(good, TARGET)
        failed = start_upgrade(bad, TARGET)
        wait_until(
            lambda: Delivery.objects.filter(state="succeeded").count() == 4,
            timeout=90,
            what="4 deliveries recorded as delivered",
        )
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
    requests = receiver.requests
    assert len(requests) == 5  # four events, one of them twice: the 500 and its retry
    ids = Counter(r.headers["X-OB-Dashboard-Delivery"] for r in requests)
    assert sorted(ids.values()) == [1, 1, 1, 2]
    assert all(signature_ok(SECRET, r.body, r.headers["X-OB-Dashboard-Signature"]) for r in requests)
    seen = {(json.loads(r.body)["dag"]["id"], json.loads(r.body)["event"]) for r in requests}
    assert seen == {
        (ok.pk, "upgrade.started"),
        (ok.pk, "upgrade.succeeded"),
        (failed.pk, "upgrade.started"),
        (failed.pk, "upgrade.failed"),
    }
    retried = Delivery.objects.get(attempts=2)
    assert [h["status"] for h in retried.history] == [500, 200]
