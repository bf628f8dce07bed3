"""Factories for tests: real objects made through the same services the product uses. Package rows are made
in `tests.support.packages`."""

import itertools

from django.contrib.auth.models import Group, User

from tests.support.builds import OB_4_2_1_0_20230928
from upgrades.roles import ensure_role_groups
from upgrades.services.clusters import cluster_create_simulated

_counter = itertools.count(1)

__all__ = ["START_BUILD", "make_cluster", "make_user"]

# The build a new simulated cluster runs unless told otherwise.
START_BUILD = OB_4_2_1_0_20230928


def make_cluster(
    name=None,
    *,
    edition="community",
    zones=3,
    servers_per_zone=1,
    version=START_BUILD.version,
    build=START_BUILD.build_number,
    **kw,
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
