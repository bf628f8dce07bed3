"""Shared test setup. Tests needing PostgreSQL, Redis or Chromium skip with a printed reason where those
are absent; with CI=true a configured-but-unreachable service or a missing Chromium fails instead."""

import os
import shutil
import socket
from urllib.parse import urlparse

import pytest
from django.conf import settings

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or ""


def _reachable(url, default_port):
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def missing_service(reason):
    """Skip, or fail under CI=true: a run in CI must not pass by skipping what CI provides."""
    if IN_CI:
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres") and not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://... (.ci/run does)")
    if item.get_closest_marker("redis"):
        url = os.environ.get("REDIS_URL", "")
        if not url:
            pytest.skip("needs Redis: set REDIS_URL=redis://... (.ci/run does)")
        if not _reachable(url, 6379):
            missing_service(f"REDIS_URL={url} is set but Redis does not answer")
    if item.get_closest_marker("browser") and not CHROMIUM:
        missing_service("needs Chromium (apt-get install chromium)")


def pytest_report_header(config):
    db = settings.DATABASES["default"]
    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    return [f"database: {db['ENGINE'].rsplit('.', 1)[-1]} {db.get('NAME')}; channel layer: {layer}; CI={IN_CI}"]


@pytest.fixture(autouse=True)
def _fast_simulation(settings, tmp_path):
    """Tests run the simulation with zero durations and keep packages in a per-test store."""
    settings.SIMULATION_SPEED = 0
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EMBEDDED_WORKER = False
