from __future__ import annotations

import re

from django.db import transaction

from upgrades.audit import Actor, audit
from upgrades.errors import bad_request
from upgrades.models import AuditEntry, Cluster, Server, Tenant, Zone
from upgrades.models.cluster import Backend, Edition

BUILD_VERSION_RE = re.compile(r"^\d+(\.\d+){3}$")
BUILD_RE = re.compile(r"^\d+$")
# (tenant id, name) of a new simulated cluster's tenants: sys and a MySQL user tenant (ids as OceanBase gives them).
SIMULATED_TENANTS = ((1, "sys"), (1002, "app"))


def _server_ip(subnet: int, host: int) -> str:
    """10.186.<subnet>.11-254 for the first 244 servers; larger clusters continue in 10.187.<subnet>. and so on."""
    index = host - 11
    return f"10.{186 + index // 244}.{subnet}.{11 + index % 244}"


def cluster_create_simulated(
    *,
    name: str,
    edition: str,
    zones: int,
    servers_per_zone: int,
    version: str,
    build: str,
    arch: str = "x86_64",
    distribution: str = "el7",
    shared_storage: bool = False,
    actor: Actor | None = None,
) -> Cluster:
    """Create a simulated cluster: zones zone1..zoneZ, N servers each, every server on <version>_<build>."""
    if edition not in Edition.values:
        raise bad_request("Common.IllegalArgument", f"edition must be one of {', '.join(Edition.values)}")
    if zones < 1 or servers_per_zone < 1:
        raise bad_request("Common.IllegalArgument", "a cluster needs at least one zone and one server per zone")
    if edition == Edition.STANDALONE and (zones != 1 or servers_per_zone != 1):
        raise bad_request("Common.IllegalArgument", "a standalone cluster has exactly one zone with one server")
    if not BUILD_VERSION_RE.match(version):
        raise bad_request("Common.IllegalArgument", f"version {version!r} is not of the form A.B.C.D")
    if not BUILD_RE.match(build):
        raise bad_request("Common.IllegalArgument", f"build {build!r} is not a number")
    with transaction.atomic():
        if Cluster.objects.filter(name=name).exists():
            raise bad_request("Common.IllegalArgument", f"cluster {name!r} already exists")
        cluster = Cluster.objects.create(
            name=name, edition=edition, backend=Backend.SIMULATED, shared_storage=shared_storage
        )
        # Realistic, stable, non-routable-looking data addresses: one /24 per cluster.
        subnet = 10 + cluster.pk % 240
        host = 11
        for z in range(1, zones + 1):
            zone = Zone.objects.create(cluster=cluster, name=f"zone{z}", position=z)
            for _ in range(servers_per_zone):
                Server.objects.create(
                    cluster=cluster,
                    zone=zone,
                    ip=_server_ip(subnet, host),
                    arch=arch,
                    distribution=distribution,
                    build_version=f"{version}_{build}",
                    agent_version=f"{version}-{build}",
                    with_rootserver=host == 11,  # the rootservice leader: one server in the cluster
                    parameters={"min_observer_version": version},
                )
                host += 1
        # The sys tenant and one user tenant, at the data version of the build they were created on.
        Tenant.objects.bulk_create(
            [
                Tenant(cluster=cluster, tenant_id=tenant_id, name=tenant, compatible=version)
                for tenant_id, tenant in SIMULATED_TENANTS
            ]
        )
        audit(
            actor=actor or Actor.system(),
            action=AuditEntry.Action.CLUSTER_CREATE,
            cluster=cluster,
            detail={
                "edition": edition,
                "zones": zones,
                "servers_per_zone": servers_per_zone,
                "build": f"{version}_{build}",
            },
        )
    return cluster
