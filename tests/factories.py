"""Factories for tests: real objects made through the same services the product uses."""

import itertools

from django.contrib.auth.models import Group, User

from upgrades.roles import ensure_role_groups
from upgrades.services.clusters import cluster_create_simulated

_counter = itertools.count(1)

OLD_VERSION = "4.2.1.0"
OLD_BUILD = "100000102023092807"


def make_cluster(name=None, *, edition="community", zones=3, servers_per_zone=1, version=OLD_VERSION, build=OLD_BUILD, **kw):
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
