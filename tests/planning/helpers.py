"""Shared setup for planning tests: stored package rows (planning reads metadata only, never the rpm bytes)."""

from pathlib import Path

from tests.support.factories import make_package_row

DEPFILES = Path(__file__).parent / "depfiles"
REAL_DEPFILE = DEPFILES / "oceanbase_4.0_to_4.3.yml"


def depfile(name):
    return (DEPFILES / name).read_text()


add_package = make_package_row


def add_edition_packages(edition_names, version, release_distribution, arch="x86_64", dep_yaml=""):
    """Every rpm an edition needs for one version; the dep file rides on the main (first) package."""
    return [
        add_package(name, version, release_distribution, arch, dep_yaml if i == 0 else "")
        for i, name in enumerate(edition_names)
    ]


TARGET_VERSION = "4.3.0.1"
TARGET_RELEASE = "100000242024032211.el7"


def stock_target(cluster, *, version=TARGET_VERSION, release=TARGET_RELEASE, archs=("x86_64",), dep_yaml=None):
    """The target's packages for the cluster's edition, carrying the real dep file."""
    dep = REAL_DEPFILE.read_text() if dep_yaml is None else dep_yaml
    for arch in archs:
        add_edition_packages(cluster.required_package_names, version, release, arch, dep)


def checks_by_key(plan):
    return {check.key: check for check in plan.checks}
