"""Housekeeping of the store: a concurrent duplicate keeps one row and one file; stale temp files go."""

import os
import time
from pathlib import Path

import pytest

from tests.packages.helpers import stored_files
from upgrades.packages import ingest
from upgrades.services import packages as package_service
from upgrades.services.packages import package_upload


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_that_wins_the_race_keeps_its_row_and_ours_is_dropped(ce_rpm, settings, monkeypatch):
    """Another upload of the same bytes commits between our duplicate check and our insert."""
    winner, _ = package_upload(path=ce_rpm)
    winner_files = stored_files(settings)
    real_filter = package_service.Package.objects.filter
    checks = []

    def filter_missing_the_winner(*args, **kwargs):
        if "release_distribution" in kwargs and not checks:
            checks.append(kwargs)
            return real_filter(pk=-1)  # the identity check ran before the winner committed
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(package_service.Package.objects, "filter", filter_missing_the_winner)
    package, created = package_upload(path=ce_rpm)
    monkeypatch.undo()
    assert checks and (package.pk, created) == (winner.pk, False)
    assert stored_files(settings) == winner_files


@pytest.mark.django_db
def test_stale_temporary_uploads_are_removed(ce_rpm, settings):
    tmp_dir = Path(settings.MEDIA_ROOT) / "tmp"
    tmp_dir.mkdir(parents=True)
    stale, fresh = tmp_dir / "upload-stale.rpm", tmp_dir / "upload-fresh.rpm"
    stale.write_bytes(b"left by a killed process")
    fresh.write_bytes(b"being written right now")
    old = time.time() - ingest.STALE_UPLOAD_SECONDS - 60
    os.utime(stale, (old, old))
    package_upload(path=ce_rpm)
    assert not stale.exists() and fresh.exists()
