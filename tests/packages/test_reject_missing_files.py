"""Packages missing the files obshell requires are refused with 500 OB.Package.MissingFile; nothing is stored."""

import pytest
from django.core.management import CommandError, call_command

from tests.packages.helpers import RELEASE, VERSION, stored_files
from upgrades.demo.rpms import oceanbase_package_files
from upgrades.errors import ObshellError
from upgrades.models import Package
from upgrades.packages.rpmwriter import write_rpm
from upgrades.services.packages import package_upload

HOME = "/home/admin/oceanbase"


def _write(tmp_path, name, files):
    return write_rpm(tmp_path / f"{name}.rpm", name=name, version=VERSION, release=RELEASE, files=files)


def _refusal(path):
    with pytest.raises(ObshellError) as raised:
        package_upload(path=path)
    assert (raised.value.status, raised.value.err_code) == (500, "OB.Package.MissingFile")
    return raised.value.message


@pytest.mark.django_db
def test_community_server_rpm_needs_observer_and_obshell(tmp_path, settings):
    files = oceanbase_package_files("oceanbase-ce", version=VERSION, release=RELEASE)
    del files[f"{HOME}/bin/obshell"]
    rpm = _write(tmp_path, "oceanbase-ce", files)
    with pytest.raises(CommandError) as raised:
        call_command("add_package", str(rpm))
    assert str(raised.value) == (
        "oceanbase-ce.rpm: OB.Package.MissingFile: These files are missing in package 'oceanbase-ce': "
        "'[/home/admin/oceanbase/bin/obshell]'"
    )
    assert Package.objects.count() == 0 and stored_files(settings) == []


@pytest.mark.django_db
def test_business_rpm_needs_observer_but_not_obshell(tmp_path, settings):
    assert _refusal(_write(tmp_path, "oceanbase", {f"{HOME}/bin/obshell": b"s"})) == (
        "These files are missing in package 'oceanbase': '[/home/admin/oceanbase/bin/observer]'"
    )
    package, created = package_upload(path=_write(tmp_path, "oceanbase", {f"{HOME}/bin/observer": b"o"}))
    assert created and package.name == "oceanbase"


@pytest.mark.django_db
def test_libs_rpm_needs_the_lib_directory_itself(tmp_path, settings):
    message = _refusal(_write(tmp_path, "oceanbase-ce-libs", {f"{HOME}/lib/libaio.so.1": b"l"}))
    assert message == "These files are missing in package 'oceanbase-ce-libs': '/home/admin/oceanbase/lib'"
    assert stored_files(settings) == []


@pytest.mark.django_db
def test_obshell_rpm_needs_the_obshell_binary(tmp_path):
    assert "[/home/admin/oceanbase/bin/obshell]" in _refusal(_write(tmp_path, "obshell", {f"{HOME}/bin/x": b"x"}))


@pytest.mark.django_db
def test_a_package_with_some_upgrade_scripts_must_carry_all_of_them(tmp_path, dep_yaml, settings):
    files = oceanbase_package_files("oceanbase-ce", version=VERSION, release=RELEASE, dep_yaml=dep_yaml)
    del files[f"{HOME}/etc/upgrade_post.py"]
    del files[f"{HOME}/etc/oceanbase_upgrade_dep.yml"]
    assert _refusal(_write(tmp_path, "oceanbase-ce", files)) == (
        "These files are missing in package 'oceanbase-ce': "
        "'[/home/admin/oceanbase/etc/upgrade_post.py /home/admin/oceanbase/etc/oceanbase_upgrade_dep.yml]'"
    )
    assert Package.objects.count() == 0 and stored_files(settings) == []


@pytest.mark.django_db
def test_with_the_clusters_build_obshells_own_rule_applies(tmp_path):
    hotfix_only = _write(
        tmp_path, "oceanbase-ce", oceanbase_package_files("oceanbase-ce", version=VERSION, release=RELEASE)
    )
    # Newer and of another version than the running build: the upgrade files are required.
    with pytest.raises(ObshellError) as raised:
        package_upload(path=hotfix_only, current_build_version="4.2.1.0_100000102023092807")
    assert raised.value.err_code == "OB.Package.MissingFile" and "upgrade_checker.py" in raised.value.message
    # A hotfix of the running version needs none.
    package, created = package_upload(path=hotfix_only, current_build_version=f"{VERSION}_100000000000000001")
    assert created and package.upgrade_dep_yaml == ""
