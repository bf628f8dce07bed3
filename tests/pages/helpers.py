"""Shared setup for page tests: stored package rows (pages and planning read metadata, never the rpm bytes)."""

from pathlib import Path

import upgrades.planning
from tests.support.factories import make_package_row

DEP_YAML = (Path(upgrades.planning.__file__).parent / "depfiles" / "oceanbase_upgrade_dep.yml").read_text()
TARGET_VERSION = "4.2.1.1"
TARGET_RELEASE = "101000012023110109.el7"


def add_package(name, version, release_distribution, *, arch="x86_64", dep_yaml=""):
    return make_package_row(
        name, version, release_distribution, arch, dep_yaml, size=52_428_800, payload_size=52_000_000
    )


def add_community_target(version=TARGET_VERSION, release=TARGET_RELEASE):
    """oceanbase-ce (carrying the dep file) and oceanbase-ce-libs of one target build; returns the main one."""
    main = add_package("oceanbase-ce", version, release, dep_yaml=DEP_YAML)
    add_package("oceanbase-ce-libs", version, release)
    return main
