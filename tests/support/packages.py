"""Packages for tests, two ways:

- package rows (`add_package`, `add_packages`, `stock_packages`): stored rows without rpm bytes, for tests
  that read package metadata only (planning, pages, the engine's simulated backend);
- real RPM files (`write_rpms`, `ingest_rpms`): written by the project's RPM writer and ingested as an
  upload would be, for tests of the API and the package store.

The dep file rides on the main (first) package of a build, as in a real release.
"""

import hashlib

from tests.support.paths import shipped_dep_yaml

# Rows are sized like a real oceanbase-ce rpm (the packages page shows "50.0 MiB").
PACKAGE_SIZE = 52_428_800
PAYLOAD_SIZE = 52_000_000


def add_package(name, version, release, *, arch="x86_64", dep_yaml="", size=PACKAGE_SIZE, payload_size=PAYLOAD_SIZE):
    """One stored package row. `release` is `<build number>.<distribution>` ("101000062023110109.el7")."""
    from upgrades.models import Package

    build_number, _, rest = release.partition(".")
    digest = hashlib.sha256(f"{name}-{version}-{release}.{arch}".encode()).hexdigest()
    return Package.objects.create(
        name=name,
        version=version,
        release=build_number,
        distribution=rest.split(".")[0],
        release_distribution=release,
        arch=arch,
        size=size,
        payload_size=payload_size,
        md5=digest[:32],
        sha256=digest,
        file=f"rpms/{digest[:2]}/{digest}/{name}.rpm",
        filename=f"{name}-{version}-{release}.{arch}.rpm",
        upgrade_dep_yaml=dep_yaml,
    )


def add_packages(names, version, release, *, arch="x86_64", dep_yaml=""):
    """Rows for every rpm in `names` of one build and arch; the dep file rides on the first."""
    return [
        add_package(name, version, release, arch=arch, dep_yaml=dep_yaml if i == 0 else "")
        for i, name in enumerate(names)
    ]


def stock_packages(build, edition="community", *, archs=("x86_64",), dep_yaml=None):
    """Every rpm an edition needs for `build`, for each arch, with the shipped dep file unless `dep_yaml` says
    otherwise ("" for none). Returns the main package of the first arch."""
    from upgrades.models.cluster import REQUIRED_PACKAGES

    dep = shipped_dep_yaml() if dep_yaml is None else dep_yaml
    rows = [
        add_packages(REQUIRED_PACKAGES[edition], build.version, build.release, arch=arch, dep_yaml=dep)
        for arch in archs
    ]
    return rows[0][0]


def write_rpms(build, directory, *, edition="community", binary_size=64 * 1024, compression="xz", dep_yaml=None):
    """Real rpm files of `build` (the edition's packages), carrying the shipped dep file by default."""
    from upgrades.demo.rpms import write_oceanbase_rpms

    return write_oceanbase_rpms(
        directory,
        edition=edition,
        version=build.version,
        release=build.release,
        arch="x86_64",
        dep_yaml=shipped_dep_yaml() if dep_yaml is None else dep_yaml,
        binary_size=binary_size,
        compression=compression,
    )


def ingest_rpms(build, directory, **kw):
    """`write_rpms`, then each file stored through the package service, as an upload would be."""
    from upgrades.services.packages import package_upload

    return [package_upload(path=path, filename=path.name)[0] for path in write_rpms(build, directory, **kw)]


def add_obshell_package(build, *, arch="x86_64"):
    """A stored `obshell` rpm row of `build` (a tests.support.builds.Build)."""
    return add_package("obshell", build.version, build.release, arch=arch, size=31_457_280, payload_size=31_000_000)


def write_obshell_rpm(build, directory, *, arch="x86_64"):
    """A real `obshell` rpm of `build`, carrying /home/admin/oceanbase/bin/obshell as obshell requires."""
    from upgrades.demo.rpms import write_obshell_rpm as write

    directory.mkdir(parents=True, exist_ok=True)
    return write(directory, version=build.version, release=build.release, arch=arch)
