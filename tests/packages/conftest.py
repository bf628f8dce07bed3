"""Fixtures for package tests: RPMs from the pure-Python writer, and from rpmbuild via tests/fixtures/rpms/build.sh."""

import shutil
import subprocess

import pytest

from tests.packages.helpers import BUILD_SCRIPT, DEP_YAML_FILE, RELEASE, VERSION
from tests.support.environment import missing_service
from upgrades.demo.rpms import write_oceanbase_rpms


@pytest.fixture(scope="session")
def rpmbuild_dir(tmp_path_factory):
    """OUT/<gzip|xz|zstd>/oceanbase-ce[-libs]-4.3.0.1-101000062023110109.el7.x86_64.rpm, built once per run."""
    if not shutil.which("rpmbuild"):
        missing_service("needs rpmbuild to build fixture RPMs (apt-get install rpm)")
    out = tmp_path_factory.mktemp("rpmbuild")
    subprocess.run(["sh", str(BUILD_SCRIPT), str(out)], check=True, capture_output=True, timeout=300)
    return out


@pytest.fixture
def dep_yaml():
    return DEP_YAML_FILE.read_text()


@pytest.fixture
def ce_rpm(tmp_path, dep_yaml):
    """A community oceanbase-ce rpm with upgrade scripts and dep yml (xz), from the Python writer."""
    return write_oceanbase_rpms(
        tmp_path / "rpms", edition="community", version=VERSION, release=RELEASE, arch="x86_64", dep_yaml=dep_yaml
    )[0]
