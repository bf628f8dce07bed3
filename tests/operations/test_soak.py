"""The chaos soak end to end: `manage.py soak` with 20 upgrades under every kind of fault, on private PostgreSQL
and Redis started by the soak itself. It must end with every upgrade SUCCEED, every fault kind injected and no
violation. Two to five minutes (five on a busy 2-core machine): CI runs it in its PostgreSQL + Redis pass only
(marked `postgres`, as the fault tests are, so the SQLite pass skips it; `-m soak` selects it), and a machine
without PostgreSQL binaries or redis-server skips it (CI=true fails instead).

The checker itself is shown to fail on bad data in test_soak_checks.py."""

import json
import os
import subprocess
import sys

import pytest

from tests.support.environment import missing_service
from tests.support.paths import PROJECT_ROOT
from upgrades.operations.processes import missing_tools

pytestmark = [pytest.mark.soak, pytest.mark.postgres, pytest.mark.slow]

UPGRADES = 20
KINDS = ["worker-kill", "web-kill", "redis-restart", "pg-cut"]


def test_twenty_upgrades_under_every_fault_end_well_and_lose_nothing(tmp_path):
    missing = missing_tools()
    if missing:
        missing_service(f"the soak needs {', '.join(missing)}")
    report_path = tmp_path / "report.json"
    work_dir = tmp_path / "soak"
    command = [
        sys.executable,
        "manage.py",
        "soak",
        f"--upgrades={UPGRADES}",
        "--clusters=4",
        f"--chaos={','.join(KINDS)}",
        "--seed=20",
        "--fault-interval=0.4",
        f"--work-dir={work_dir}",
        f"--report-json={report_path}",
    ]
    done = subprocess.run(
        command, cwd=PROJECT_ROOT, env=os.environ.copy(), capture_output=True, text=True, timeout=600, check=False
    )
    print(done.stdout[-6000:])
    assert done.returncode == 0, f"the soak failed:\n{done.stdout[-6000:]}\n{done.stderr[-4000:]}"
    report = json.loads(report_path.read_text())
    assert report["violations"] == []
    assert report["by_state"] == {"SUCCEED": UPGRADES}
    injected = {kind.split(" ")[0] for kind, count in report["faults"].items() if count}
    assert injected == set(KINDS), report["faults"]
    assert report["events_received"] == report["events_in_database"] > UPGRADES * 100
    assert report["executions"] >= UPGRADES * 50
