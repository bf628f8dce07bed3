"""What this machine provides for the tests that need more than Python: CI mode, Chromium, services.

Tests needing PostgreSQL, Redis, Chromium or rpmbuild skip with a printed reason where those are absent; with
CI=true a configured-but-unreachable service or a missing tool fails instead.
"""

import os
import shutil
import socket
from urllib.parse import urlparse

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or ""


def reachable(url, default_port):
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
