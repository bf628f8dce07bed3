"""A real cluster's verification facts, read from its agent where the agent's version exposes them (client §1.2, §5):

* servers and builds: `GET /api/v1/ob/info` (every version; its topology is missing while the agent's own observer
  is down);
* `min_observer_version`, `enable_upgrade_mode` and each tenant's `compatible`: `GET /api/v1/obcluster/parameters`
  (4.3.0.0+; `tenant_value` names the tenant of a TENANT-scope value);
* on 4.2.4.0-4.2.x, `compatible` alone: `GET /api/v1/tenants/overview` then `GET /api/v1/tenant/:name/parameter/
  compatible` per tenant;
* zone states: `GET /api/v1/obcluster/info` (4.3.0.0+).

A route the agent does not have, or a call that fails, leaves its facts None with the reason: the check is unknown.
"""

from __future__ import annotations

from typing import Any

from upgrades.backends.obshell.client import AgentClient, AgentError, version_tuple
from upgrades.backends.obshell.topology import servers_of
from upgrades.operations.verification import REPORTED_PARAMETERS, Facts

CLUSTER_PARAMETERS_SINCE = (4, 3, 0, 0)
TENANT_PARAMETER_SINCE = (4, 2, 4, 0)
# Verification reads are plain reads: a short timeout, the client's fallback to the next agent on failure.
READ_TIMEOUT = 15.0
_PARAMETER_CHECKS = ("min_observer_version", "upgrade_mode_off", "tenant_compatible")


def _contents(data: Any) -> list:
    if isinstance(data, dict):
        return list(data.get("contents") or [])
    return list(data or [])


def agent_facts(client: AgentClient) -> Facts:
    try:
        info = client.connect()
    except AgentError as error:
        facts = Facts(source="obshell agent")
        for key in ("servers_on_target", "no_stopped_zone", *_PARAMETER_CHECKS):
            facts.unknown[key] = f"no agent answered: {error}"
        return facts
    version = version_tuple(info.version)
    facts = Facts(source=f"obshell agent {info.version}")
    _read_servers(client, facts)
    if version >= CLUSTER_PARAMETERS_SINCE:
        _read_cluster_parameters(client, facts)
        _read_zones(client, facts)
    else:
        since = ".".join(map(str, CLUSTER_PARAMETERS_SINCE))
        why = f"obshell {info.version} does not serve cluster parameters (GET /api/v1/obcluster/parameters, {since}+)"
        facts.unknown["min_observer_version"] = why
        facts.unknown["upgrade_mode_off"] = why
        facts.unknown["no_stopped_zone"] = (
            f"obshell {info.version} does not serve zone states (/obcluster/info, {since}+)"
        )
        if version >= TENANT_PARAMETER_SINCE:
            _read_tenant_compatible(client, facts)
        else:
            facts.unknown["tenant_compatible"] = f"obshell {info.version} does not serve tenant parameters (4.2.4.0+)"
    return facts


def _read_servers(client: AgentClient, facts: Facts) -> None:
    try:
        ob_info = client.get("/api/v1/ob/info", timeout=READ_TIMEOUT)
    except AgentError as error:
        facts.unknown["servers_on_target"] = f"GET /api/v1/ob/info failed: {error}"
        return
    servers = servers_of(ob_info or {})
    if not servers:
        facts.unknown["servers_on_target"] = "the agent's /ob/info has no topology (its observer may be down)"
        return
    facts.servers = {f"{server.ip}:{server.svr_port}": server.build_version for server in servers}


def _read_cluster_parameters(client: AgentClient, facts: Facts) -> None:
    try:
        contents = _contents(client.get("/api/v1/obcluster/parameters", timeout=READ_TIMEOUT))
    except AgentError as error:
        for key in _PARAMETER_CHECKS:
            facts.unknown[key] = f"GET /api/v1/obcluster/parameters failed: {error}"
        return
    # Random order (client §5): index by name.
    by_name = {str(item.get("name")): item for item in contents if isinstance(item, dict)}

    def per_server(name: str) -> dict[str, str] | None:
        item = by_name.get(name)
        if item is None:
            return None
        return {
            f"{value.get('svr_ip')}:{value.get('svr_port')}": str(value.get("value"))
            for value in item.get("ob_parameters") or []
        }

    facts.min_observer_version = per_server("min_observer_version")
    facts.upgrade_mode = per_server("enable_upgrade_mode")
    compatible = by_name.get("compatible")
    if compatible is not None:
        facts.tenants = {
            str(value.get("tenant_name") or value.get("tenant_id")): str(value.get("value"))
            for value in compatible.get("tenant_value") or []
        }
    for key, values, name in (
        ("min_observer_version", facts.min_observer_version, "min_observer_version"),
        ("upgrade_mode_off", facts.upgrade_mode, "enable_upgrade_mode"),
        ("tenant_compatible", facts.tenants, "compatible"),
    ):
        if values is None:
            facts.unknown[key] = f"the agent's parameters do not include {name}"
    for name in REPORTED_PARAMETERS:
        item = by_name.get(name)
        if item is None:
            continue
        if name == "compatible":
            facts.parameters[name] = dict(facts.tenants or {})
        else:
            facts.parameters[name] = per_server(name) or {}


def _read_zones(client: AgentClient, facts: Facts) -> None:
    try:
        info = client.get("/api/v1/obcluster/info", timeout=READ_TIMEOUT) or {}
    except AgentError as error:
        facts.unknown["no_stopped_zone"] = f"GET /api/v1/obcluster/info failed: {error}"
        return
    if info.get("status") not in (None, "AVAILABLE"):
        # Client §4.3: without its observer the agent answers a degraded summary whose zone states are guesses.
        facts.unknown["no_stopped_zone"] = f"the agent's observer is {info.get('status')}: zone states not read"
        return
    zones = info.get("zones")
    if not zones:
        facts.unknown["no_stopped_zone"] = "the agent's /obcluster/info lists no zone"
        return
    facts.zones = {str(zone.get("name")): str(zone.get("status") or "") for zone in zones}


def _read_tenant_compatible(client: AgentClient, facts: Facts) -> None:
    try:
        tenants = _contents(client.get("/api/v1/tenants/overview", timeout=READ_TIMEOUT))
        values = {}
        for tenant in tenants:
            name = str(tenant.get("tenant_name") or "")
            parameter = client.get(f"/api/v1/tenant/{name}/parameter/compatible", timeout=READ_TIMEOUT) or {}
            values[name] = str(parameter.get("value") or "")
    except AgentError as error:
        facts.unknown["tenant_compatible"] = f"reading the tenants' compatible failed: {error}"
        return
    facts.tenants = values
    facts.parameters["compatible"] = dict(values)
