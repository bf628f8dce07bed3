"""RPMs from the Python writer read exactly like rpmbuild's, with rpmfile and with the rpm tool."""

import shutil
import subprocess

import pytest

from tests.packages.helpers import RELEASE, VERSION
from tests.support.environment import missing_service
from upgrades.packages.rpm import StreamDigests, read_header
from upgrades.packages.rpmwriter import DIRECTORY, write_rpm

HOME = "/home/admin/oceanbase"


def _rpmbuild_layout(dep_yaml):
    files = {f"{HOME}/bin/observer": b"\x7fELF observer\n", f"{HOME}/bin/obshell": b"\x7fELF obshell\n"}
    for script in ("upgrade_checker", "upgrade_pre", "upgrade_health_checker", "upgrade_post"):
        files[f"{HOME}/etc/{script}.py"] = b"#!/usr/bin/env python\n"
    files[f"{HOME}/etc/oceanbase_upgrade_dep.yml"] = dep_yaml.encode()
    libs = {f"{HOME}/lib": DIRECTORY, f"{HOME}/lib/libaio.so.1": b"a", f"{HOME}/lib/libmariadb.so.3": b"m"}
    return {"oceanbase-ce": files, "oceanbase-ce-libs": libs}


def _summary(path):
    with open(path, "rb") as f:
        header = read_header(f)
    return header.name, header.version, header.release, header.arch, header.payload_compressor, header.files


@pytest.mark.parametrize("compression", ["gzip", "xz", "zstd"])
def test_writer_and_rpmbuild_parse_identically(tmp_path, rpmbuild_dir, compression, dep_yaml):
    for name, files in _rpmbuild_layout(dep_yaml).items():
        ours = write_rpm(
            tmp_path / f"{name}.rpm", name=name, version=VERSION, release=RELEASE, files=files, compression=compression
        )
        theirs = rpmbuild_dir / compression / f"{name}-{VERSION}-{RELEASE}.x86_64.rpm"
        assert _summary(ours) == _summary(theirs)


@pytest.fixture
def rpm_tool():
    if not shutil.which("rpm"):
        missing_service("needs the rpm tool (apt-get install rpm)")
    return "rpm"


def _rpm(*args):
    return subprocess.run(["rpm", *args], check=True, capture_output=True, text=True, timeout=60).stdout


@pytest.mark.parametrize("compression", ["gzip", "xz", "zstd"])
def test_rpm_tool_reads_and_verifies_writer_packages(tmp_path, rpm_tool, rpmbuild_dir, compression, dep_yaml):
    for name, files in _rpmbuild_layout(dep_yaml).items():
        ours = write_rpm(
            tmp_path / f"{name}.rpm", name=name, version=VERSION, release=RELEASE, files=files, compression=compression
        )
        theirs = rpmbuild_dir / compression / f"{name}-{VERSION}-{RELEASE}.x86_64.rpm"
        query = "%{NAME} %{VERSION} %{RELEASE} %{ARCH} %{PAYLOADCOMPRESSOR}\n"
        assert _rpm("-qp", "--qf", query, str(ours)) == _rpm("-qp", "--qf", query, str(theirs))
        assert _rpm("-qpl", str(ours)) == _rpm("-qpl", str(theirs))
        info = _rpm("-qpi", str(ours))
        assert f"Name        : {name}" in info and f"Release     : {RELEASE}" in info
        checked = _rpm("-Kv", str(ours))
        assert "MD5 digest: OK" in checked and "Payload SHA256 digest: OK" in checked and "NOT OK" not in checked
        # rpm itself decompresses the payload: the archive has the signed size and carries the dep yml.
        archive = subprocess.run(["rpm2cpio", str(ours)], check=True, capture_output=True, timeout=60).stdout
        assert archive.startswith(b"070701") and b"TRAILER!!!" in archive
        digests = StreamDigests()
        digests.update(ours.read_bytes())
        assert len(archive) == digests.signature().payload_size
        if name == "oceanbase-ce":
            assert b"./home/admin/oceanbase/etc/oceanbase_upgrade_dep.yml\0" in archive
            assert dep_yaml.encode() in archive
