"""A damaged RPM (bad MD5, truncated, broken header) is refused with one clear line; nothing is stored."""

import pytest
from django.core.management import CommandError, call_command

from tests.packages.helpers import stored_files
from upgrades.models import AuditEntry, Package


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
