"""A simulated cluster's verification facts, from the rows its steps change: each server's build and cluster-scope
parameters (Server.parameters, OceanBase's defaults where unset), each tenant's `compatible` (Tenant) and each
zone's status (Zone)."""

from __future__ import annotations

from upgrades.backends.simulated.parameters import (
    MIN_OBSERVER_VERSION,
    UPGRADE_MODE,
    UPGRADE_MODE_DEFAULT,
    UPGRADE_PARAMETERS,
)
from upgrades.models import Server, Tenant, Zone
from upgrades.operations.verification import Facts


def simulated_facts(cluster_id: int) -> Facts:
    servers = list(Server.objects.filter(cluster_id=cluster_id).order_by("zone__position", "id"))
    facts = Facts(source="simulated")
    facts.servers = {f"{s.ip}:{s.rpc_port}": s.build_version for s in servers}
    recorded = {
        f"{s.ip}:{s.rpc_port}": s.parameters[MIN_OBSERVER_VERSION]
        for s in servers
        if MIN_OBSERVER_VERSION in (s.parameters or {})
    }
    if len(recorded) == len(servers):
        facts.min_observer_version = recorded
    else:
        facts.unknown["min_observer_version"] = "min_observer_version is not recorded on every simulated server"
    facts.upgrade_mode = {
        f"{s.ip}:{s.rpc_port}": str((s.parameters or {}).get(UPGRADE_MODE, UPGRADE_MODE_DEFAULT)) for s in servers
    }
    tenants = list(Tenant.objects.filter(cluster_id=cluster_id).order_by("tenant_id"))
    if tenants:
        facts.tenants = {tenant.name: tenant.compatible for tenant in tenants}
    else:
        facts.unknown["tenant_compatible"] = "the simulated cluster has no tenant recorded"
    facts.zones = dict(Zone.objects.filter(cluster_id=cluster_id).order_by("position").values_list("name", "status"))
    parameters = {MIN_OBSERVER_VERSION: recorded, UPGRADE_MODE: facts.upgrade_mode}
    for name, default in UPGRADE_PARAMETERS.items():
        parameters[name] = {f"{s.ip}:{s.rpc_port}": str((s.parameters or {}).get(name, default)) for s in servers}
    if facts.tenants:
        parameters["compatible"] = dict(facts.tenants)
    facts.parameters = {name: values for name, values in parameters.items() if values}
    return facts
