"""A release without a dot and versions below 4.2.0.0 are refused with obshell's 400s (spec 3.1 step 2)."""

import pytest

from tests.packages.helpers import RELEASE, stored_files
from upgrades.errors import ObshellError
from upgrades.models import Package
from upgrades.packages.rpmwriter import write_rpm
from upgrades.services.packages import package_upload


@pytest.mark.django_db
def test_release_without_a_dot_and_old_versions_are_refused(tmp_path, settings):
    files = {"/home/admin/oceanbase/bin/observer": b"o", "/home/admin/oceanbase/bin/obshell": b"s"}
    no_dot = write_rpm(
        tmp_path / "a.rpm", name="oceanbase-ce", version="4.3.0.1", release="101000062023110109", files=files
    )
    with pytest.raises(ObshellError) as raised:
        package_upload(path=no_dot)
    assert (raised.value.status, raised.value.err_code) == (400, "Package.ReleaseFormat.Invalid")
    old = write_rpm(tmp_path / "b.rpm", name="oceanbase-ce", version="4.1.0.2", release=RELEASE, files=files)
    with pytest.raises(ObshellError) as raised:
        package_upload(path=old)
    assert (raised.value.status, raised.value.err_code) == (400, "Agent.OBVersionNotSupported")
    assert "minimum supported version is '4.2.0.0'" in raised.value.message
    assert Package.objects.count() == 0 and stored_files(settings) == []
