"""add_package stores a valid RPM, prints `name version release arch`, and records obshell's fields."""

import hashlib
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.packages.helpers import RELEASE, VERSION, stored_files
from upgrades.demo.rpms import write_obshell_rpm, write_oceanbase_rpms
from upgrades.models import AuditEntry, Package
from upgrades.packages.rpm import StreamDigests


@pytest.mark.django_db
def test_add_package_stores_the_rpm_and_prints_its_identity(ce_rpm, dep_yaml, settings, capsys):
    call_command("add_package", str(ce_rpm))

    assert capsys.readouterr().out == f"oceanbase-ce {VERSION} {RELEASE} x86_64\n"
    package = Package.objects.get()
    data = ce_rpm.read_bytes()
    digests = StreamDigests()
    digests.update(data)
    signature = digests.signature()
    assert (package.name, package.version, package.arch) == ("oceanbase-ce", VERSION, "x86_64")
    assert (package.release, package.distribution, package.release_distribution) == (
        "101000062023110109",
        "el7",
        RELEASE,
    )
    assert package.sha256 == hashlib.sha256(data).hexdigest()
    assert package.md5 == signature.md5  # tag 1004, what obshell verifies and stores
    assert package.payload_size == signature.size == len(data) - digests.header_start  # tag 1000
    assert package.size == len(data)
    assert package.filename == ce_rpm.name
    assert package.upgrade_dep_yaml == dep_yaml
    with package.file.open("rb") as stored:
        assert stored.read() == data
    assert stored_files(settings) == [Path(package.file.name)]  # moved into place, nothing left in tmp/
    entry = AuditEntry.objects.get(action="package.upload")
    assert entry.outcome == "ok" and entry.actor_label == "add_package"
    assert entry.detail["package"] == package.rpm_name


@pytest.mark.django_db
def test_add_package_takes_libs_and_obshell_rpms(tmp_path, capsys):
    libs = write_oceanbase_rpms(tmp_path, edition="community", version=VERSION, release=RELEASE, arch="aarch64")[1]
    obshell = write_obshell_rpm(tmp_path, version="4.3.0.0", release="100000012024010101.el8")
    call_command("add_package", str(libs))
    call_command("add_package", str(obshell))
    assert capsys.readouterr().out.splitlines() == [
        f"oceanbase-ce-libs {VERSION} {RELEASE} aarch64",
        "obshell 4.3.0.0 100000012024010101.el8 x86_64",
    ]
    assert Package.objects.get(name="oceanbase-ce-libs").upgrade_dep_yaml == ""
