"""Real clusters (the obshell backend): registering one by its agents, keeping its topology and health current,
its credentials and its pinned agent keys. Secrets are encrypted at rest and never reach an error, log or audit."""

from __future__ import annotations

import logging
import re

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from upgrades.audit import Actor, audit
from upgrades.backends.obshell import client_for
from upgrades.backends.obshell.client import (
    AgentClient,
    AgentError,
    AgentKeyChanged,
    AgentRefused,
    AgentUnreachable,
    CredentialsRejected,
)
from upgrades.backends.obshell.topology import FoundCluster, FoundServer, NotAClusterAgent, read_cluster, servers_of
from upgrades.engine import periodic
from upgrades.errors import ObshellError, bad_request
from upgrades.models import AuditEntry, Cluster, Server, Zone
from upgrades.models.cluster import Backend, Edition
from upgrades.security.keys import field_encrypt
from upgrades.services.real_upgrades import UPGRADE_DAG_PREFIXES, adopt_remote_upgrades

logger = logging.getLogger(__name__)

ADDRESS_RE = re.compile(r"^(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\]):(?P<port>\d{1,5})$")
CREDENTIALS_REJECTED = "credentials rejected"
KEY_CHANGED = "public key changed"


def parse_addresses(addresses: list[str]) -> list[str]:
    if not addresses:
        raise bad_request("Common.IllegalArgument", "give at least one --agent HOST:PORT")
    for address in addresses:
        match = ADDRESS_RE.match(address)
        if not match or not 0 < int(match["port"]) < 65536:
            raise bad_request("Common.IllegalArgument", f"agent address {address!r} is not HOST:PORT")
    return list(dict.fromkeys(addresses))


def _contact_error(error: Exception, addresses: list[str]) -> ObshellError:
    """One line for a DBA, naming no secret."""
    if isinstance(error, CredentialsRejected):
        which = "agent" if "AgentPassword" in error.err_code else "root@sys"
        return bad_request(
            "Security.Authentication.IncorrectOceanbasePassword", f"the agent rejected the {which} password"
        )
    if isinstance(error, AgentUnreachable):
        return bad_request("Agent.Unreachable", f"no obshell agent answered at {', '.join(addresses)}")
    if isinstance(error, NotAClusterAgent):
        return bad_request("Agent.Identify.NotSupportOperation", str(error))
    if isinstance(error, AgentKeyChanged):
        return bad_request("Security.Authentication.KeyChanged", str(error))
    if isinstance(error, AgentRefused):
        return bad_request(error.err_code, f"the agent refused: {error.message}")
    return bad_request("Common.Unexpected", f"the agent's answer could not be read: {error}")


def probe_agents(*, addresses: list[str], password: str, agent_password: str = "") -> FoundCluster:
    """ "Test connection": what registering would find, without saving anything."""
    addresses = parse_addresses(addresses)
    try:
        return read_cluster(AgentClient(addresses, password=password, agent_password=agent_password))
    except (AgentError, NotAClusterAgent, ValueError, KeyError, TypeError) as error:
        raise _contact_error(error, addresses) from None


def cluster_register_obshell(
    *,
    name: str,
    addresses: list[str],
    password: str,
    agent_password: str = "",
    edition: str | None = None,
    actor: Actor | None = None,
) -> Cluster:
    """Register a real cluster: negotiate with its agent, prove the password, import zones, servers, builds and
    agent versions, pin the agent's key. Any failure is one line, and nothing is saved."""
    if edition is not None and edition not in Edition.values:
        raise bad_request("Common.IllegalArgument", f"edition must be one of {', '.join(Edition.values)}")
    if Cluster.objects.filter(name=name).exists():
        raise bad_request("Common.IllegalArgument", f"cluster {name!r} already exists")
    found = probe_agents(addresses=addresses, password=password, agent_password=agent_password)
    edition = found.edition or edition
    if edition is None:
        raise bad_request(
            "Common.IllegalArgument",
            f"the agent ({found.agent_version}) does not report its edition: give --edition community|business|standalone",
        )
    if not found.servers:
        raise bad_request("Agent.Unavailable", "the agent reported no servers (is its observer running?)")
    addresses = parse_addresses(addresses)
    host, _, port = found.address.rpartition(":")
    with transaction.atomic():
        if Cluster.objects.select_for_update().filter(name=name).exists():
            raise bad_request("Common.IllegalArgument", f"cluster {name!r} already exists")
        cluster = Cluster.objects.create(
            name=name,
            edition=edition,
            backend=Backend.OBSHELL,
            agent_host=host.strip("[]"),
            agent_port=int(port),
            agent_addresses=addresses,
            ob_password_encrypted=field_encrypt(password) if password else "",
            agent_password_encrypted=field_encrypt(agent_password) if agent_password else "",
            agent_public_key={found.address: found.public_key},
            topology_refreshed_at=timezone.now(),
        )
        _store_topology(cluster, found.servers)
        audit(
            actor=actor or Actor.system(),
            action=AuditEntry.Action.CLUSTER_CREATE,
            cluster=cluster,
            detail={
                "backend": Backend.OBSHELL,
                "agents": addresses,
                "agent_version": found.agent_version,
                "auth": found.auth,
                "edition": edition,
                "zones": found.zones,
                "servers": len(found.servers),
                "builds": found.builds,
            },
        )
    return cluster


def _store_topology(cluster: Cluster, servers: list[FoundServer]) -> None:
    """Make zones and servers match what the agent reports (a scale-in removes servers, a scale-out adds them)."""
    zones = {}
    for position, zone_name in enumerate(dict.fromkeys(server.zone for server in servers), start=1):
        zone, _ = Zone.objects.update_or_create(cluster=cluster, name=zone_name, defaults={"position": position})
        zones[zone_name] = zone
    seen = set()
    for found in servers:
        server, _ = Server.objects.update_or_create(
            cluster=cluster,
            ip=found.ip,
            agent_port=found.agent_port,
            defaults={
                "zone": zones[found.zone],
                "sql_port": found.sql_port,
                "rpc_port": found.svr_port,
                "build_version": found.build_version,
                "agent_version": found.agent_version,
                "status": Server.Status.ACTIVE if found.active else Server.Status.INACTIVE,
                "process_running": found.active,
                "with_rootserver": found.with_rootserver,
            },
        )
        seen.add(server.pk)
    cluster.servers.exclude(pk__in=seen).delete()
    cluster.zones.exclude(name__in=zones).delete()


def cluster_refresh(*, cluster: Cluster) -> str:
    """Read topology and health from the agent; returns a one-line summary. An agent that does not answer marks
    the cluster unreachable since now (kept if already set); rejected credentials or a changed key stop all
    traffic (`contact_problem`) until an admin acts. Never raises for the agent's trouble."""
    if cluster.backend != Backend.OBSHELL:
        return f"{cluster.name}: simulated, nothing to refresh"
    if cluster.contact_problem:
        return f"{cluster.name}: not contacted ({cluster.contact_problem})"
    client = client_for(cluster)
    try:
        ob_info = client.get("/api/v1/ob/info")
    except AgentUnreachable:
        Cluster.objects.filter(pk=cluster.pk, unreachable_since__isnull=True).update(unreachable_since=timezone.now())
        cluster.refresh_from_db(fields=["unreachable_since"])
        return f"{cluster.name}: unreachable since {cluster.unreachable_since:%Y-%m-%d %H:%M:%S}"
    except CredentialsRejected:
        _stop_contact(cluster, CREDENTIALS_REJECTED)
        return f"{cluster.name}: {CREDENTIALS_REJECTED}"
    except AgentKeyChanged as changed:
        _stop_contact(cluster, KEY_CHANGED, key_change={"address": changed.address, "published": changed.published})
        return f"{cluster.name}: {changed}"
    except AgentRefused as refused:
        return f"{cluster.name}: the agent refused ({refused})"
    servers = servers_of(ob_info)
    health = _agent_health(client)
    holder = _agent_maintenance(client)
    with transaction.atomic():
        locked = Cluster.objects.select_for_update().get(pk=cluster.pk)
        if servers:  # an agent whose observer is down answers ob/info without a topology (client §4.3)
            _store_topology(locked, servers)
            _store_health(locked, health)
        locked.agent_maintenance = holder
        locked.unreachable_since = None
        locked.topology_refreshed_at = timezone.now()
        locked.agent_public_key = {**locked.agent_public_key, **_newly_learned_keys(client, locked)}
        locked.save(
            update_fields=["unreachable_since", "topology_refreshed_at", "agent_public_key", "agent_maintenance"]
        )
    cluster.refresh_from_db()
    if not holder:
        try:
            adopt_remote_upgrades(cluster=cluster)  # an upgrade started elsewhere is mirrored, marked so
        except ObshellError as error:
            logger.warning("cluster %s: looking for upgrades started elsewhere failed: %s", cluster.name, error.message)
    return f"{cluster.name}: {cluster.servers.count()} servers, builds {', '.join(sorted(set(cluster.servers.values_list('build_version', flat=True))))}"


def _agent_health(client: AgentClient) -> dict[str, bool]:
    """`agents/status`: "ip:port" → whether that agent runs with its observer available (state 2, obState 3).
    An agent missing from the map did not answer its peer (client §5)."""
    try:
        statuses = client.get("/api/v1/agents/status")
    except AgentError:
        return {}
    return {
        str(address): status.get("state") == 2 and status.get("obState") == 3
        for address, status in (statuses or {}).items()
        if isinstance(status, dict)
    }


def _store_health(cluster: Cluster, health: dict[str, bool]) -> None:
    if not health:
        return
    for server in cluster.servers.all():
        healthy = health.get(server.agent_address, False)
        if server.process_running != healthy:
            server.process_running = healthy
            server.save(update_fields=["process_running"])


def _agent_maintenance(client: AgentClient) -> dict:
    """The agent's newest maintenance DAG when it holds the lock and is not an upgrade (client §7 "Is the lock
    held?"): the holder to show. Upgrades are mirrored instead."""
    try:
        newest = client.get("/api/v1/task/dag/maintain/ob?show_details=false")
    except AgentError:
        return {}
    held = newest.get("maintenance_type") == 2 and newest.get("state") != "SUCCEED"
    if not held or str(newest.get("name") or "").startswith(UPGRADE_DAG_PREFIXES):
        return {}
    return {"id": str(newest.get("id")), "name": str(newest.get("name") or ""), "state": str(newest.get("state") or "")}


def _newly_learned_keys(client: AgentClient, cluster: Cluster) -> dict[str, str]:
    """Keys of addresses first dialled now (trust on first use, like ssh); pinned ones never change here."""
    learned = {}
    for address in client.addresses:
        if address not in cluster.agent_public_key:
            try:
                learned[address] = client.learned_key(address)
            except KeyError:
                continue
    return learned


def _stop_contact(cluster: Cluster, problem: str, *, key_change: dict | None = None) -> None:
    with transaction.atomic():
        updated = Cluster.objects.filter(pk=cluster.pk, contact_problem="").update(
            contact_problem=problem, agent_key_change=key_change or {}
        )
        if updated:
            audit(
                actor=Actor.system(),
                action=AuditEntry.Action.CLUSTER_CONTACT_STOPPED,
                cluster=cluster,
                outcome=AuditEntry.Outcome.FAILED,
                reason=problem,
                detail={"key_change_address": (key_change or {}).get("address", "")},
            )
    cluster.refresh_from_db()


def cluster_set_password(
    *, cluster: Cluster, password: str, agent_password: str | None = None, actor: Actor
) -> Cluster:
    """Store a new root@sys password (and agent password), proven against the agent first; clears a
    "credentials rejected" stop."""
    if cluster.backend != Backend.OBSHELL:
        raise bad_request("Common.IllegalArgument", f"cluster {cluster.name!r} is simulated: it has no password")
    client = client_for(cluster)
    client.password = password
    if agent_password is not None:
        client.agent_password = agent_password
    try:
        client.get("/api/v1/ob/info")
    except (AgentError, ValueError) as error:
        raise _contact_error(error, client.addresses) from None
    with transaction.atomic():
        cluster.ob_password_encrypted = field_encrypt(password) if password else ""
        fields = ["ob_password_encrypted", "contact_problem"]
        if agent_password is not None:
            cluster.agent_password_encrypted = field_encrypt(agent_password) if agent_password else ""
            fields.append("agent_password_encrypted")
        if cluster.contact_problem == CREDENTIALS_REJECTED:
            cluster.contact_problem = ""
        cluster.save(update_fields=fields)
        audit(actor=actor, action=AuditEntry.Action.CLUSTER_PASSWORD_SET, cluster=cluster)
    return cluster


def agent_key_confirm(*, cluster: Cluster, actor: Actor, reason: str = "") -> Cluster:
    """An admin accepts the agent's new public key (after checking it out of band); traffic resumes."""
    change = cluster.agent_key_change
    if not change:
        raise bad_request("Common.IllegalArgument", f"no key change is waiting on cluster {cluster.name!r}")
    with transaction.atomic():
        cluster.agent_public_key = {**cluster.agent_public_key, change["address"]: change["published"]}
        cluster.agent_key_change = {}
        if cluster.contact_problem == KEY_CHANGED:
            cluster.contact_problem = ""
        cluster.save(update_fields=["agent_public_key", "agent_key_change", "contact_problem"])
        audit(
            actor=actor,
            action=AuditEntry.Action.CLUSTER_KEY_CONFIRM,
            cluster=cluster,
            reason=reason,
            detail={"address": change["address"]},
        )
    return cluster


def refresh_real_clusters() -> dict[str, str]:
    """The periodic job: refresh every real cluster (TOPOLOGY_REFRESH_SECONDS apart)."""
    results = {}
    for cluster in Cluster.objects.filter(backend=Backend.OBSHELL):
        try:
            results[cluster.name] = cluster_refresh(cluster=cluster)
        except Exception:  # one cluster's surprise must not starve the others
            logger.exception("refreshing cluster %s failed", cluster.name)
            results[cluster.name] = "refresh failed (see the worker log)"
    return results


periodic.register("topology-refresh", settings.TOPOLOGY_REFRESH_SECONDS, refresh_real_clusters)
