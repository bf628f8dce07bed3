"""Lookups take the newest matching package; any-release lookups skip deprecated builds."""

import pytest

from upgrades.demo.rpms import write_oceanbase_rpms
from upgrades.packages.selectors import find_package, find_package_any_release
from upgrades.services.packages import package_upload


def _add(tmp_path, version, release, arch="x86_64"):
    out = tmp_path / f"{version}-{release}-{arch}"
    return [
        package_upload(path=p)[0]
        for p in write_oceanbase_rpms(out, edition="community", version=version, release=release, arch=arch)
    ]


@pytest.mark.django_db
def test_find_package_matches_the_full_release_and_arch(tmp_path):
    ce, _libs = _add(tmp_path, "4.3.0.1", "101000062023110109.el7")
    _add(tmp_path, "4.3.0.1", "101000062023110109.el7", arch="aarch64")
    found = find_package(
        name="oceanbase-ce", version="4.3.0.1", release_distribution="101000062023110109.el7", arch="x86_64"
    )
    assert found == ce
    assert (
        find_package(
            name="oceanbase-ce", version="4.3.0.1", release_distribution="101000062023110109.el8", arch="x86_64"
        )
        is None
    )


@pytest.mark.django_db
def test_find_package_any_release_takes_the_newest_not_excluded(tmp_path):
    older, _ = _add(tmp_path, "4.2.1.1", "101000012023101001.el7")
    newer, _ = _add(tmp_path, "4.2.1.1", "101000022023110101.el7")
    _add(tmp_path, "4.2.1.1", "101000032023120101.el8")
    lookup = {"name": "oceanbase-ce", "version": "4.2.1.1", "distribution": "el7", "arch": "x86_64"}
    assert find_package_any_release(**lookup) == newer
    assert find_package_any_release(**lookup, exclude_releases=["101000022023110101"]) == older
    assert find_package_any_release(**lookup, exclude_releases=["101000022023110101.el7", "101000012023101001"]) is None
