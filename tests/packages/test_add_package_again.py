"""Adding the same file again succeeds with the same line and changes nothing."""

import pytest
from django.core.management import call_command

from tests.packages.helpers import stored_files
from upgrades.models import AuditEntry, Package
from upgrades.services.packages import package_upload


@pytest.mark.django_db
def test_same_file_again_prints_the_same_line_and_stores_nothing_new(ce_rpm, settings, capsys):
    call_command("add_package", str(ce_rpm))
    first = capsys.readouterr().out
    package = Package.objects.get()
    files = stored_files(settings)
    audits = AuditEntry.objects.count()

    call_command("add_package", str(ce_rpm))

    assert capsys.readouterr().out == first
    assert list(Package.objects.values_list("id", flat=True)) == [package.id]
    assert stored_files(settings) == files
    assert AuditEntry.objects.count() == audits


@pytest.mark.django_db
def test_same_bytes_under_another_name_return_the_existing_row(ce_rpm, settings):
    original, created = package_upload(path=ce_rpm)
    assert created
    with open(ce_rpm, "rb") as f:
        again, created = package_upload(fileobj=f, filename="renamed.rpm")
    assert (again.pk, created) == (original.pk, False)
    assert again.filename == ce_rpm.name
    assert len(stored_files(settings)) == 1
