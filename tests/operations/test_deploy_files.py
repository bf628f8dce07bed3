"""deploy/Procfile and deploy/systemd/ run the same commands as `make run-scaled` (upgrades.operations.processes),
so the three ways to run the scale-out profile cannot drift apart."""

import configparser
import shlex
import sys

from tests.support.paths import PROJECT_ROOT
from upgrades.operations.processes import FrontProcess, WebProcess, WorkerProcess

DEPLOY = PROJECT_ROOT / "deploy"


def procfile():
    entries = {}
    for line in (DEPLOY / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            entries[name.strip()] = shlex.split(command)
    return entries


def unit(name):
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str
    parser.read(DEPLOY / "systemd" / name)
    return parser


def launcher_argv(member):
    """What make run-scaled runs, with the interpreter spelled `python` as the deploy files do."""
    argv = member.argv()
    return ["python" if arg == sys.executable else arg for arg in argv]


def test_the_procfile_runs_what_make_run_scaled_runs():
    entries = procfile()
    web_ports = [8001, 8002]
    for index, port in enumerate(web_ports, start=1):
        assert entries[f"web{index}"] == launcher_argv(WebProcess(port=port))
    for index in (1, 2):
        assert entries[f"worker{index}"] == launcher_argv(WorkerProcess(threads=2))
    front = launcher_argv(FrontProcess([f"127.0.0.1:{p}" for p in web_ports], host="0.0.0.0", port=8000))
    assert entries["front"] == [arg.replace(str(PROJECT_ROOT) + "/", "") for arg in front]
    assert entries["release"] == ["python", "manage.py", "migrate", "--noinput"]


def test_the_systemd_units_run_the_procfile_commands():
    entries = procfile()
    venv_python = "/opt/obdash/.venv/bin/python"

    def exec_start(name, instance=None):
        argv = shlex.split(unit(name)["Service"]["ExecStart"])
        assert argv[0] == venv_python
        argv = ["python", *argv[1:]]
        return [arg.replace("%i", instance) for arg in argv] if instance else argv

    assert exec_start("obdash-web@.service", "8001") == entries["web1"]
    assert exec_start("obdash-worker@.service") == entries["worker1"]
    assert exec_start("obdash-front.service") == entries["front"]
    assert exec_start("obdash-migrate.service") == entries["release"]
    wanted = unit("obdash.target")["Unit"]["Wants"].split()
    assert {"obdash-web@8001.service", "obdash-web@8002.service", "obdash-worker@1.service"} <= set(wanted)
    for name in ("obdash-web@.service", "obdash-worker@.service", "obdash-migrate.service"):
        assert unit(name)["Service"]["EnvironmentFile"] == "/etc/obdash/obdash.env"
