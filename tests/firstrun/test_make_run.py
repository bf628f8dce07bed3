"""`make run` on a fresh clone: one line per phase (install, migrate, seed, serve) and the URL last; the server
answers, and the one-time sign-in link works once and never twice.

Runs in CI's first pass only (no DATABASE_URL, no REDIS_URL: the embedded profile `make run` sets up), and there
creates .venv from requirements.txt through pip's cache. FRESH_CLONE=0 skips it; FRESH_CLONE_REUSE_VENV=<venv>
makes the clone's fresh .venv see that venv's packages, so the install phase only checks them (a quick local run).
It clones the committed HEAD: uncommitted changes are not part of it."""

import http.cookiejar
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.support.environment import missing_service

REPO = Path(__file__).resolve().parents[2]
PHASES = ["install", "migrate", "seed", "serve", "open"]
DEADLINE = 420  # seconds: a cold pip install on a slow machine

pytestmark = pytest.mark.slow


def _skip_reason():
    if os.environ.get("FRESH_CLONE", "").strip().lower() in {"0", "false", "no", "off"}:
        return "FRESH_CLONE=0"
    if os.environ.get("DATABASE_URL") or os.environ.get("REDIS_URL"):
        return "CI's first pass only: make run is the embedded profile (no DATABASE_URL, no REDIS_URL)"
    if not (REPO / ".git").exists():
        return f"{REPO} is not a git checkout"
    return ""


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _reuse_packages(venv, clone):
    """A fresh .venv in the clone whose interpreter also sees `venv`'s site-packages (a .pth file)."""
    subprocess.run([sys._base_executable, "-m", "venv", str(clone / ".venv")], check=True)
    shared = next(Path(venv).glob("lib/python*/site-packages"))
    own = next((clone / ".venv").glob("lib/python*/site-packages"))
    (own / "_shared_test_venv.pth").write_text(f"{shared}\n")


class Output:
    """Every line the command prints, read by a thread so the pipe never fills."""

    def __init__(self, stream):
        self.lines = []
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream):
        for line in stream:
            self.lines.append(line.rstrip("\n"))
        self.done.set()

    def wait_for(self, prefix, deadline):
        while time.monotonic() < deadline:
            if any(line.startswith(prefix) for line in self.lines):
                return
            if self.done.is_set():
                break
            time.sleep(0.2)
        raise AssertionError("make run never printed its URL:\n" + "\n".join(self.lines))


def _opener():
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    jar = http.cookiejar.CookieJar()
    return urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)


def _get(opener, url):
    try:
        with opener.open(url, timeout=15) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def test_make_run_on_a_fresh_clone_serves_and_prints_a_one_time_link(tmp_path):
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    for tool in ("git", "make"):
        if shutil.which(tool) is None:
            missing_service(f"needs {tool}")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    if os.environ.get("FRESH_CLONE_REUSE_VENV"):
        _reuse_packages(os.environ["FRESH_CLONE_REUSE_VENV"], clone)
    # A fresh shell's environment: not this run's database, venv or pytest settings, nor the variables of a
    # `make test` this test may run under (with MAKELEVEL set, `make run` would say "Entering directory").
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "TEST_DB_SUFFIX", "VIRTUAL_ENV", "PYTHONPATH", "MFLAGS"}
        and not key.startswith(("PYTEST_", "DJANGO_ALLOW", "MAKE"))
    }
    port = _free_port()
    process, output = _make_run(clone, env, port)
    try:
        output.wait_for("open ", time.monotonic() + DEADLINE)
        lines = list(output.lines)
        # One line per phase, in order, and the URL last.
        assert [line.split()[0] for line in lines] == PHASES, lines
        assert "requirements.txt installed" in lines[0] or "requirements.txt up to date" in lines[0]
        assert re.search(r"viewer=\S+ operator=\S+ admin=\S+", lines[2]), "first start: the passwords"
        match = re.search(r"(http://127\.0\.0\.1:\d+)(/login/link/[\w-]+/)$", lines[-1])
        assert match, lines[-1]
        base, link = match.groups()
        assert base == f"http://127.0.0.1:{port}"
        # Only serving requirements: no test tooling in the clone's .venv.
        own = next((clone / ".venv").glob("lib/python*/site-packages"))
        assert not list(own.glob("pytest*")) and not list(own.glob("playwright*"))

        status, headers, _ = _get(_opener(), f"{base}/")
        assert status == 302 and headers["Location"].startswith("/login/")

        browser = _opener()
        status, headers, _ = _get(browser, f"{base}{link}")
        assert (status, headers["Location"]) == (302, "/")
        status, _, page = _get(browser, f"{base}/")
        assert status == 200 and "Signed in as admin with the one-time link" in page
        assert "data-try-it" in page and "demo-hangzhou" in page

        status, _, page = _get(_opener(), f"{base}{link}")
        assert status == 410 and "already been used" in page
        status, _, _ = _get(browser, f"{base}{link}")
        assert status == 410
    finally:
        _stop(process)

    # A second start: nothing to install or migrate, the accounts exist, and a new link replaces the first.
    process, output = _make_run(clone, env, port)
    try:
        output.wait_for("open ", time.monotonic() + DEADLINE)
        lines = list(output.lines)
        assert [line.split()[0] for line in lines] == PHASES, lines
        assert "requirements.txt up to date" in lines[0] and ": up to date" in lines[1]
        assert "accounts viewer, operator, admin exist" in lines[2] and "admin=" not in lines[2]
        second = re.search(r"(/login/link/[\w-]+/)$", lines[-1]).group(1)
        assert second != link
        browser = _opener()
        assert _get(browser, f"{base}{second}")[0] == 302
        assert _get(browser, f"{base}/")[0] == 200
    finally:
        _stop(process)


def _make_run(clone, env, port):
    process = subprocess.Popen(
        ["make", "run", f"PORT={port}", f"PYTHON={sys._base_executable}"],
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    return process, Output(process.stdout)


def _stop(process):
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
