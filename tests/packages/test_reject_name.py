"""Only names some edition accepts are stored (spec 3.1 step 1); the API narrows them to the cluster's edition."""

import pytest
from django.core.management import CommandError, call_command

from tests.packages.helpers import stored_files
from upgrades.errors import ObshellError
from upgrades.models import Package
from upgrades.models.cluster import Edition
from upgrades.packages.names import allowed_package_names
from upgrades.packages.rpmwriter import write_rpm
from upgrades.services.packages import package_upload


@pytest.mark.django_db
def test_a_name_no_edition_allows_is_refused(tmp_path, settings):
    rpm = write_rpm(
        tmp_path / "mysql.rpm",
        name="mysql-server",
        version="8.0.36",
        release="1.el7",
        files={"/usr/sbin/mysqld": b"\x7fELF"},
    )
    with pytest.raises(CommandError) as raised:
        call_command("add_package", str(rpm))
    assert str(raised.value) == (
        "mysql.rpm: OB.Package.Name.NotSupport: Unsupported name 'mysql-server', the supported names are "
        "[obshell, oceanbase-ce, oceanbase-ce-libs, oceanbase, oceanbase-standalone, oceanbase-diagnostic-tool]"
    )
    assert Package.objects.count() == 0
    assert stored_files(settings) == []


@pytest.mark.django_db
def test_a_business_cluster_refuses_community_packages(ce_rpm, settings):
    with pytest.raises(ObshellError) as raised:
        package_upload(path=ce_rpm, allowed_names=allowed_package_names(Edition.BUSINESS))
    assert (raised.value.status, raised.value.err_code) == (400, "OB.Package.Name.NotSupport")
    assert raised.value.message == "Unsupported name 'oceanbase-ce', the supported names are [obshell, oceanbase]"
    assert stored_files(settings) == []


@pytest.mark.django_db
def test_the_diagnostic_tool_is_accepted_unchecked(tmp_path):
    rpm = write_rpm(
        tmp_path / "obdiag.rpm",
        name="oceanbase-diagnostic-tool",
        version="3.1.0",
        release="1",
        files={"/opt/oceanbase-diagnostic-tool/obdiag": b"#!/bin/sh\n"},
    )
    package, created = package_upload(path=rpm, allowed_names=allowed_package_names(Edition.STANDALONE))
    assert created and (package.release, package.distribution) == ("1", "")
