"""Prometheus metrics through prometheus_client.

Every metric is created here, once per process, in prometheus_client's default registry; the code that
moves one imports it from here (the engine, events, the live consumers, the request middleware), so no
layer above the core is needed to count. `scrape()` renders the text exposition: in multiprocess mode
(PROMETHEUS_MULTIPROC_DIR set in the environment before the process starts) it aggregates every process's
files in that directory, else it reads this process's registry; the upgrades-by-state gauge is read from
the database at scrape time, so every web process reports the same fleet-wide figure.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from django.db.models import Count
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from upgrades.models import Dag
from upgrades.models.dag import State

__all__ = [
    "CONTENT_TYPE_LATEST",
    "EVENTS_PUBLISHED",
    "HTTP_LATENCY",
    "HTTP_REQUESTS",
    "LEASES_REAPED",
    "PERIODIC_RUNS",
    "STEP_DURATION",
    "WEBSOCKET_CONNECTIONS",
    "clean_multiprocess_dir",
    "multiprocess_dir",
    "scrape",
    "serve_worker_metrics",
]

# Steps last from milliseconds (simulated, SIMULATION_SPEED=0) to the better part of an hour (a real restart).
STEP_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

STEP_DURATION = Histogram(
    "obdash_step_duration_seconds",
    "Duration of finished sub-task attempts (start to end), by node action and outcome",
    ["action", "state"],
    buckets=STEP_BUCKETS,
)
EVENTS_PUBLISHED = Counter("obdash_events_published", "DAG events handed to the live layer after their commit")
LEASES_REAPED = Counter("obdash_leases_reaped", "Sub-task leases the reaper took back from a silent worker")
WEBSOCKET_CONNECTIONS = Gauge(
    "obdash_websocket_connections", "Open live websocket connections", multiprocess_mode="livesum"
)
HTTP_REQUESTS = Counter(
    "obdash_http_requests",
    "HTTP requests served, by method, URL route pattern and status",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "obdash_http_request_duration_seconds",
    "HTTP request latency, by method and URL route pattern",
    ["method", "route"],
    buckets=HTTP_BUCKETS,
)
PERIODIC_RUNS = Counter("obdash_periodic_job_runs", "Periodic job runs, by job and outcome", ["job", "outcome"])


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class UpgradesByState(Collector):
    """obdash_upgrades{state=...}: DAGs by state, counted in the database when scraped."""

    def collect(self) -> Iterable[Any]:
        family = GaugeMetricFamily("obdash_upgrades", "Upgrades (DAGs) by state, read at scrape time", labels=["state"])
        counts = dict(Dag.objects.order_by().values_list("state").annotate(n=Count("id")).values_list("state", "n"))
        for state in State.values:
            family.add_metric([state], counts.get(state, 0))
        yield family


class _ThisProcess(Collector):
    """The default registry, delegated (so a scrape registry can add collectors without touching it)."""

    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()


def scrape_registry(*, include_database: bool = True) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    if include_database:
        registry.register(UpgradesByState())
    return registry


def scrape(*, include_database: bool = True) -> bytes:
    """The Prometheus text exposition of this host's processes (multiprocess) or of this process."""
    return generate_latest(scrape_registry(include_database=include_database))


def serve_worker_metrics(port: int, host: str = "127.0.0.1") -> Any:
    """`run_worker --metrics-port`: serve this worker process's metrics on host:port (a daemon thread);
    upgrades by state stay with the web processes' /metrics. Returns the HTTP server (shutdown() stops it)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ThisProcess())
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server


def clean_multiprocess_dir() -> int:
    """Delete the multiprocess files other (earlier) processes left; only for a profile where this process
    is the only writer (the embedded profile): with several web processes each would delete the others'.
    Returns how many files were removed."""
    directory = multiprocess_dir()
    if not directory:
        return 0
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    mine = f"_{os.getpid()}.db"
    removed = 0
    for file in path.glob("*.db"):
        if not file.name.endswith(mine):
            file.unlink(missing_ok=True)
            removed += 1
    return removed


def _mark_dead() -> None:
    directory = multiprocess_dir()
    if directory and Path(directory).is_dir():
        multiprocess.mark_process_dead(os.getpid(), directory)


# A live gauge (websocket connections) must stop counting a process that exits.
atexit.register(_mark_dead)
