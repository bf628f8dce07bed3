"""GET /metrics: Prometheus text (parsed with prometheus_client's parser) whose counts move with an upgrade
run and with requests (labelled by route pattern, not raw path); METRICS_TOKEN enforced; multiprocess mode
aggregates several processes; run_worker --metrics-port serves a worker's own metrics."""

import signal
import subprocess
import sys
import urllib.request

import pytest

from tests.operations.helpers import free_port, samples, spawn_run_worker, value
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster, make_user
from tests.support.live_server import child_environment
from tests.support.packages import stock_packages
from tests.support.paths import PROJECT_ROOT
from tests.support.waiting import wait_until
from upgrades.engine.runner import run_dag_to_end
from upgrades.operations import metrics


def scrape(client, **headers):
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return samples(response.content.decode())


def step_count(parsed):
    return sum(v for (name, _), v in parsed.items() if name == "obdash_step_duration_seconds_count")


@pytest.mark.django_db(transaction=True)
def test_counts_move_after_an_upgrade_run(client):
    cluster = make_cluster()
    stock_packages(TARGET)
    before = scrape(client)
    assert value(before, "obdash_upgrades", state="SUCCEED") == 0
    dag = start_upgrade(cluster, TARGET)
    running = scrape(client)
    assert value(running, "obdash_upgrades", state="READY") == 1
    dag = run_dag_to_end(dag.pk, timeout=60)
    after = scrape(client)
    assert value(after, "obdash_upgrades", state="SUCCEED") == 1
    assert value(after, "obdash_upgrades", state="READY") == 0
    finished = dag.nodes.count()
    assert step_count(after) - step_count(before) >= finished
    actions = {labels for (name, labels), _ in after.items() if name == "obdash_step_duration_seconds_count"}
    assert all(dict(labels)["action"] and dict(labels)["state"] in ("SUCCEED", "FAILED") for labels in actions)
    assert value(after, "obdash_events_published_total") - value(before, "obdash_events_published_total") >= (
        dag.last_seq
    )


@pytest.mark.django_db
def test_requests_are_counted_by_route_pattern(client):
    client.force_login(make_user("viewer"))
    before = scrape(client)
    for dag_id in (123456, 654321):
        assert client.get(f"/runs/{dag_id}/").status_code == 404
    assert client.get("/runs/").status_code == 200
    after = scrape(client)
    route = "/runs/<int:dag_id>/"
    moved = value(after, "obdash_http_requests_total", method="GET", route=route, status="404") - value(
        before, "obdash_http_requests_total", method="GET", route=route, status="404"
    )
    assert moved == 2
    assert value(after, "obdash_http_request_duration_seconds_count", method="GET", route=route) >= 2
    assert value(after, "obdash_http_requests_total", method="GET", route="/runs/", status="200") >= 1
    routes = {dict(labels).get("route") for (name, labels), _ in after.items() if name.startswith("obdash_http")}
    assert not any("123456" in r or "654321" in r for r in routes if r)


@pytest.mark.django_db
def test_api_requests_and_unknown_paths(client):
    client.get("/api/v1/info")
    client.get("/no/such/page/4711")
    parsed = scrape(client)
    routes = {dict(labels).get("route") for (name, labels), _ in parsed.items() if name == "obdash_http_requests_total"}
    assert "/api/v1/info" in routes
    assert "<unmatched>" in routes
    assert not any("4711" in r for r in routes if r)


@pytest.mark.django_db
def test_metrics_token_is_enforced_when_set(client, settings):
    settings.METRICS_TOKEN = "s3cret-metrics"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Basic s3cret-metrics").status_code == 401
    response = client.get("/metrics")
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"obdash_" not in response.content
    scrape(client, HTTP_AUTHORIZATION="Bearer s3cret-metrics")
    settings.METRICS_TOKEN = ""
    scrape(client)


CHILD = """
import os, sys
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dashboard.settings")
django.setup()
from upgrades.operations import metrics
events, sockets = int(sys.argv[1]), int(sys.argv[2])
metrics.EVENTS_PUBLISHED.inc(events)
metrics.HTTP_REQUESTS.labels(method="GET", route="/runs/", status="200").inc(events)
metrics.WEBSOCKET_CONNECTIONS.inc(sockets)
print("written", flush=True)
if len(sys.argv) > 3:
    sys.stdin.readline()  # stay alive (its live gauge counts) until the parent says so
"""


def _spawn_writer(directory, events, sockets, *, linger=False):
    env = {**child_environment(PROMETHEUS_MULTIPROC_DIR=directory)}
    import os

    env = {**os.environ, **env}
    args = [sys.executable, "-c", CHILD, str(events), str(sockets)] + (["linger"] if linger else [])
    return subprocess.Popen(
        args,
        cwd=PROJECT_ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.django_db(transaction=True)
def test_multiprocess_mode_aggregates_processes(client, tmp_path, monkeypatch):
    directory = tmp_path / "prom"
    directory.mkdir()
    first = _spawn_writer(directory, 3, 2)
    assert first.wait(timeout=60) == 0, first.stderr.read()
    second = _spawn_writer(directory, 4, 5, linger=True)
    try:
        assert second.stdout.readline().strip() == "written", second.stderr.read()
        monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
        parsed = scrape(client)
    finally:
        second.communicate("\n", timeout=60)
    assert value(parsed, "obdash_events_published_total") == 7
    assert value(parsed, "obdash_http_requests_total", method="GET", route="/runs/", status="200") == 7
    # Live sockets: only the living process's count (the first one exited).
    assert value(parsed, "obdash_websocket_connections") == 5
    # The database gauge is added once per scrape, not per process.
    assert value(parsed, "obdash_upgrades", state="SUCCEED") == 0

    # The embedded profile starts by clearing what earlier processes left behind.
    assert any(directory.glob("counter_*.db"))
    assert metrics.clean_multiprocess_dir() > 0
    assert not any(directory.glob("*.db"))


@pytest.mark.django_db(transaction=True)
def test_run_worker_serves_its_own_metrics_port():
    port = free_port()
    child = spawn_run_worker("--metrics-port", str(port))
    url = f"http://127.0.0.1:{port}/metrics"

    def fetch():
        if child.poll() is not None:
            raise AssertionError(f"run_worker exited: {child.stderr.read()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.read().decode()
        except OSError:
            return None

    try:
        # The reaper's periodic runs show up once the worker loop turns (other jobs may be counted before it).
        text = wait_until(
            lambda: (t := fetch()) and 'job="reap-expired-leases"' in t and t, timeout=60, what="worker metrics"
        )
        parsed = samples(text)
        assert value(parsed, "obdash_periodic_job_runs_total", job="reap-expired-leases", outcome="ok") >= 1
        assert ("obdash_leases_reaped_total", ()) in parsed
        assert not any(name == "obdash_upgrades" for name, _ in parsed)  # the fleet gauge stays with the web
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=30) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
