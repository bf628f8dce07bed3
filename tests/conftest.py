"""Shared test setup: markers that skip (or, with CI=true, fail) where a service or tool is missing, stale test
databases of dead runs, and the simulation settings every test runs with. Shared helpers and fixtures live in
tests/support/ (see its __init__); the fixtures are registered here."""

import os
import re
from pathlib import Path

import pytest
from django.conf import settings
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from tests.support.environment import CHROMIUM, IN_CI, missing_service, reachable

# Property tests judge inputs, not speed: a busy CI machine must not fail them on generation time.
hypothesis_settings.register_profile("project", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("project")

# The API client fixtures serve tests/api and tests/security alike.
pytest_plugins = ["tests.support.fixtures", "tests.api.fixtures"]


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres") and not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        pytest.skip("needs PostgreSQL: set DATABASE_URL=postgres://... (.ci/run does)")
    if item.get_closest_marker("redis"):
        url = os.environ.get("REDIS_URL", "")
        if not url:
            pytest.skip("needs Redis: set REDIS_URL=redis://... (.ci/run does)")
        if not reachable(url, 6379):
            missing_service(f"REDIS_URL={url} is set but Redis does not answer")
    if item.get_closest_marker("browser") and not CHROMIUM:
        missing_service("needs Chromium (apt-get install chromium)")


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pytest_sessionstart(session):
    """Drop the per-run test databases that earlier runs left behind (a killed run, a teardown that found its
    database still in use), so repeated runs on one machine do not pile them up. Live runs are left alone."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        main = Path(db["NAME"])
        ours = re.compile(rf"^{re.escape(main.stem)}\.test(\d+)\.sqlite3")
        for path in main.parent.glob(f"{main.stem}.test*.sqlite3*"):
            match = ours.match(path.name)
            if match and not _pid_alive(int(match.group(1))):
                path.unlink(missing_ok=True)
    elif db["ENGINE"].endswith("postgresql"):
        import psycopg

        ours = re.compile(rf"^test_{re.escape(db['NAME'])}_(\d+)$")  # only the names settings give test databases
        params = {
            "host": db.get("HOST") or None,
            "port": db.get("PORT") or None,
            "user": db.get("USER") or None,
            "password": db.get("PASSWORD") or None,
            "dbname": "postgres",
            "autocommit": True,
        }
        try:
            with psycopg.connect(**{k: v for k, v in params.items() if v is not None}, connect_timeout=5) as conn:
                names = [
                    row[0] for row in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'test\\_%'")
                ]
                for name in names:
                    match = ours.match(name)
                    if match and not _pid_alive(int(match.group(1))):
                        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except psycopg.Error:
            pass  # the run itself reports an unreachable database


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
