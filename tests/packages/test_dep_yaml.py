"""etc/oceanbase_upgrade_dep.yml is read from the payload of gzip, xz and zstd packages and stored."""

import pytest
from django.core.management import call_command

from tests.packages.helpers import RELEASE, VERSION
from upgrades.demo.rpms import write_oceanbase_rpms
from upgrades.models import Package
from upgrades.services.packages import package_upload


@pytest.mark.django_db
@pytest.mark.parametrize("compression", ["gzip", "xz", "zstd"])
def test_dep_yaml_from_rpmbuild_packages(rpmbuild_dir, compression, dep_yaml, capsys):
    call_command("add_package", str(rpmbuild_dir / compression / f"oceanbase-ce-{VERSION}-{RELEASE}.x86_64.rpm"))
    assert capsys.readouterr().out == f"oceanbase-ce {VERSION} {RELEASE} x86_64\n"
    assert Package.objects.get().upgrade_dep_yaml == dep_yaml


@pytest.mark.django_db
@pytest.mark.parametrize("compression", ["gzip", "xz", "zstd"])
def test_dep_yaml_from_writer_packages(tmp_path, compression, dep_yaml):
    ce, libs = write_oceanbase_rpms(
        tmp_path,
        edition="community",
        version=VERSION,
        release=RELEASE,
        arch="x86_64",
        dep_yaml=dep_yaml,
        compression=compression,
    )
    assert package_upload(path=ce)[0].upgrade_dep_yaml == dep_yaml
    assert package_upload(path=libs)[0].upgrade_dep_yaml == ""


@pytest.mark.django_db
def test_a_hotfix_package_without_upgrade_files_has_no_dep_yaml(tmp_path):
    ce = write_oceanbase_rpms(tmp_path, edition="standalone", version=VERSION, release=RELEASE, arch="x86_64")[0]
    package, created = package_upload(path=ce)
    assert created and package.name == "oceanbase-standalone" and package.upgrade_dep_yaml == ""
