"""A large package is streamed: memory stays flat while it is copied, digested and searched for the dep yml."""

import hashlib
import os
import tracemalloc

import pytest

from tests.packages.helpers import RELEASE, VERSION
from upgrades.demo.rpms import oceanbase_package_files
from upgrades.packages.rpmwriter import write_rpm
from upgrades.services.packages import package_upload

SIZE = 48 * 1024 * 1024


class _ReadOnlyStream:
    """An upload body that can only be read forward, like a request stream."""

    def __init__(self, f):
        self.f = f

    def read(self, size=-1):
        return self.f.read(size)


@pytest.fixture
def large_rpm(tmp_path, dep_yaml):
    observer = tmp_path / "observer"
    with open(observer, "wb") as f:
        for _ in range(SIZE // (1024 * 1024)):
            f.write(os.urandom(1024 * 1024))
    files = oceanbase_package_files("oceanbase-ce", version=VERSION, release=RELEASE, dep_yaml=dep_yaml)
    files["/home/admin/oceanbase/bin/observer"] = observer  # streamed from disk; the dep yml comes after it
    return write_rpm(
        tmp_path / "large.rpm",
        name="oceanbase-ce",
        version=VERSION,
        release=RELEASE,
        files=files,
        compression="zstd",
        level=1,
    )


@pytest.mark.django_db
@pytest.mark.slow
def test_a_large_package_is_ingested_with_flat_memory(large_rpm, dep_yaml):
    assert large_rpm.stat().st_size > SIZE
    tracemalloc.start()
    try:
        with open(large_rpm, "rb") as f:
            package, created = package_upload(fileobj=_ReadOnlyStream(f), filename=large_rpm.name)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert created and package.upgrade_dep_yaml == dep_yaml
    assert peak < 8 * 1024 * 1024, f"peak traced memory {peak / 2**20:.1f} MiB for a {SIZE / 2**20:.0f} MiB package"
    digest = hashlib.sha256()
    with open(large_rpm, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    assert package.sha256 == digest.hexdigest()
    assert package.file.size == large_rpm.stat().st_size
