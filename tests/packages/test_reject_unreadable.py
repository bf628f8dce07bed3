"""Corrupt files and non-RPMs are refused with one clear line; nothing is stored."""

import pytest
from django.core.management import CommandError, call_command

from upgrades.errors import ObshellError
from upgrades.models import AuditEntry, Package
from upgrades.packages.ingest import package_ingest

from .conftest import stored_files


def _refused(path, settings, match):
    with pytest.raises(CommandError, match=match) as raised:
        call_command("add_package", str(path))
    assert "\n" not in str(raised.value)
    assert Package.objects.count() == 0
    assert stored_files(settings) == []
    return str(raised.value)


@pytest.mark.django_db
def test_a_flipped_payload_byte_fails_the_md5_check(ce_rpm, tmp_path, settings):
    data = bytearray(ce_rpm.read_bytes())
    data[-100] ^= 0xFF
    damaged = tmp_path / "damaged.rpm"
    damaged.write_bytes(data)
    message = _refused(damaged, settings, "damaged RPM package: MD5 check failed")
    assert message.startswith("damaged.rpm: Common.Unexpected: ")
    assert AuditEntry.objects.get().outcome == "refused"


@pytest.mark.django_db
def test_a_truncated_rpm_is_refused(ce_rpm, tmp_path, settings):
    truncated = tmp_path / "truncated.rpm"
    truncated.write_bytes(ce_rpm.read_bytes()[:-1000])
    _refused(truncated, settings, "damaged RPM package: signature says header\\+payload is")


@pytest.mark.django_db
def test_a_damaged_header_is_refused(ce_rpm, tmp_path, settings):
    data = bytearray(ce_rpm.read_bytes())
    data[96:100] = b"XXXX"  # the signature header magic
    broken = tmp_path / "broken.rpm"
    broken.write_bytes(data)
    _refused(broken, settings, "damaged RPM package: no signature header")


@pytest.mark.django_db
@pytest.mark.parametrize("content", [b"", b"hello, this is a text file\n" * 100, b"\x1f\x8b\x08\x00" + bytes(200)])
def test_a_file_that_is_not_an_rpm_is_refused(tmp_path, settings, content):
    not_rpm = tmp_path / "notes.rpm"
    not_rpm.write_bytes(content)
    _refused(not_rpm, settings, "notes.rpm: Common.Unexpected: 'notes.rpm' is not an RPM package")


@pytest.mark.django_db
def test_the_api_path_gets_a_500_unexpected_error(tmp_path, settings):
    with pytest.raises(ObshellError) as raised, open(__file__, "rb") as f:
        package_ingest(fileobj=f, filename="upload.rpm")
    assert (raised.value.status, raised.value.err_code) == (500, "Common.Unexpected")
    assert stored_files(settings) == []


@pytest.mark.django_db
def test_a_missing_path_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        call_command("add_package", str(tmp_path / "absent.rpm"))
