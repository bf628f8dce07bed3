"""A file that is not an RPM is refused with one clear line and a 500 for the API; nothing is stored."""

import pytest
from django.core.management import CommandError, call_command

from tests.packages.helpers import stored_files
from upgrades.errors import ObshellError
from upgrades.models import Package
from upgrades.services.packages import package_upload


def _refused(path, settings, match):
    with pytest.raises(CommandError, match=match) as raised:
        call_command("add_package", str(path))
    assert "\n" not in str(raised.value)
    assert Package.objects.count() == 0
    assert stored_files(settings) == []
    return str(raised.value)


@pytest.mark.django_db
@pytest.mark.parametrize("content", [b"", b"hello, this is a text file\n" * 100, b"\x1f\x8b\x08\x00" + bytes(200)])
def test_a_file_that_is_not_an_rpm_is_refused(tmp_path, settings, content):
    not_rpm = tmp_path / "notes.rpm"
    not_rpm.write_bytes(content)
    _refused(not_rpm, settings, "notes.rpm: Common.Unexpected: 'notes.rpm' is not an RPM package")


@pytest.mark.django_db
def test_the_api_path_gets_a_500_unexpected_error(tmp_path, settings):
    with pytest.raises(ObshellError) as raised, open(__file__, "rb") as f:
        package_upload(fileobj=f, filename="upload.rpm")
    assert (raised.value.status, raised.value.err_code) == (500, "Common.Unexpected")
    assert stored_files(settings) == []


@pytest.mark.django_db
def test_a_missing_path_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("add_package", str(tmp_path / "absent.rpm"))
