"""Factories for tests: real objects made through the same services the product uses."""

import hashlib
import itertools

from django.contrib.auth.models import Group, User

from upgrades.models import Package
from upgrades.roles import ensure_role_groups
from upgrades.services.clusters import cluster_create_simulated

_counter = itertools.count(1)

OLD_VERSION = "4.2.1.0"
OLD_BUILD = "100000102023092807"


def make_cluster(
    name=None, *, edition="community", zones=3, servers_per_zone=1, version=OLD_VERSION, build=OLD_BUILD, **kw
):
    return cluster_create_simulated(
        name=name or f"cluster{next(_counter)}",
        edition=edition,
        zones=zones,
        servers_per_zone=servers_per_zone,
        version=version,
        build=build,
        **kw,
    )


def make_user(role="operator", username=None, password="correct-horse-battery"):
    ensure_role_groups()
    user = User.objects.create_user(username=username or f"{role}{next(_counter)}", password=password)
    user.groups.add(Group.objects.get(name=role))
    return user


def make_package_row(name, version, release_distribution, arch="x86_64", dep_yaml="", *, size=1024, payload_size=4096):
    """A stored package row without rpm bytes, for tests that read package metadata only (planning, pages)."""
    release, _, rest = release_distribution.partition(".")
    digest = hashlib.sha256(f"{name}-{version}-{release_distribution}.{arch}".encode()).hexdigest()
    return Package.objects.create(
        name=name,
        version=version,
        release=release,
        distribution=rest.split(".")[0],
        release_distribution=release_distribution,
        arch=arch,
        size=size,
        payload_size=payload_size,
        md5=digest[:32],
        sha256=digest,
        file=f"rpms/{digest[:2]}/{digest}/{name}.rpm",
        filename=f"{name}-{version}-{release_distribution}.{arch}.rpm",
        upgrade_dep_yaml=dep_yaml,
    )
