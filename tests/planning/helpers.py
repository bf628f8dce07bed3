"""Shared setup for planning tests: stored package rows (planning reads metadata only, never the rpm bytes)."""

import hashlib
from pathlib import Path

from upgrades.models import Package

DEPFILES = Path(__file__).parent / "depfiles"
REAL_DEPFILE = DEPFILES / "oceanbase_4.0_to_4.3.yml"


def depfile(name):
    return (DEPFILES / name).read_text()


def add_package(name, version, release_distribution, arch="x86_64", dep_yaml=""):
    release, _, rest = release_distribution.partition(".")
    distribution = rest.split(".")[0]
    digest = hashlib.sha256(f"{name}-{version}-{release_distribution}.{arch}".encode()).hexdigest()
    return Package.objects.create(
        name=name,
        version=version,
        release=release,
        distribution=distribution,
        release_distribution=release_distribution,
        arch=arch,
        size=1024,
        payload_size=4096,
        md5=digest[:32],
        sha256=digest,
        file=f"rpms/{digest[:2]}/{digest}/{name}.rpm",
        filename=f"{name}-{version}-{release_distribution}.{arch}.rpm",
        upgrade_dep_yaml=dep_yaml,
    )


def add_edition_packages(edition_names, version, release_distribution, arch="x86_64", dep_yaml=""):
    """Every rpm an edition needs for one version; the dep file rides on the main (first) package."""
    return [
        add_package(name, version, release_distribution, arch, dep_yaml if i == 0 else "")
        for i, name in enumerate(edition_names)
    ]
