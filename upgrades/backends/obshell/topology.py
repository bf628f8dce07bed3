"""What a real cluster looks like from its agent (client §5 shapes), read into plain data the services store."""

from __future__ import annotations

from dataclasses import dataclass, field

from upgrades.backends.obshell.client import AgentClient, AgentRefused, version_tuple


class NotAClusterAgent(Exception):
    pass


@dataclass(frozen=True)
class FoundServer:
    zone: str
    ip: str
    svr_port: int
    sql_port: int
    agent_port: int
    build_version: str  # "<version>_<build>", cut at the first "-" as ob/info gives it
    agent_version: str
    active: bool
    with_rootserver: bool


@dataclass
class FoundCluster:
    name: str
    edition: str | None  # None where the agent predates /obcluster/info (4.3.0): the DBA must say
    address: str  # the agent that answered
    agent_version: str
    auth: str
    public_key: str
    servers: list[FoundServer] = field(default_factory=list)

    @property
    def zones(self):
        return list(dict.fromkeys(server.zone for server in self.servers))

    @property
    def builds(self):
        return sorted({server.build_version for server in self.servers})


def edition_of(obcluster_info):
    """Client §5: `is_community_edition`, else `is_standalone` (4.3.2+), else business."""
    if obcluster_info.get("is_community_edition"):
        return "community"
    if obcluster_info.get("is_standalone"):
        return "standalone"
    return "business"


def read_cluster(client: AgentClient) -> FoundCluster:
    """Negotiate with the first agent that answers, prove the password (`/ob/info` is authenticated since 4.2.3.1)
    and read the topology, builds, agent versions and, where the agent has it, the edition."""
    info = client.connect()
    if info.identity != "CLUSTER AGENT":
        raise NotAClusterAgent(
            f"the agent at {client.current} is {info.identity or 'unidentified'!r}, not a cluster agent"
        )
    ob_info = client.get("/api/v1/ob/info", fallback=False)
    edition = None
    if version_tuple(info.version) >= (4, 3, 0, 0):
        try:
            edition = edition_of(client.get("/api/v1/obcluster/info", fallback=False))
        except AgentRefused as refused:
            if refused.status != 404:
                raise
    return FoundCluster(
        name=str((ob_info.get("obcluster_info") or {}).get("name") or ""),
        edition=edition,
        address=client.current,
        agent_version=info.version,
        auth=info.auth,
        public_key=client.learned_key(client.current),
        servers=servers_of(ob_info),
    )


def servers_of(ob_info):
    versions = {(a.get("ip"), a.get("port")): str(a.get("version") or "") for a in ob_info.get("agent_info") or []}
    topology = (ob_info.get("obcluster_info") or {}).get("topology") or {}
    servers = []
    for zone, members in topology.items():
        for member in members or []:
            ip, agent_port = str(member.get("svr_ip") or ""), int(member.get("agent_port") or 0)
            servers.append(
                FoundServer(
                    zone=str(zone),
                    ip=ip,
                    svr_port=int(member.get("svr_port") or 0),
                    sql_port=int(member.get("sql_port") or 0),
                    agent_port=agent_port,
                    build_version=str(member.get("build_version") or "").split("-")[0],
                    agent_version=versions.get((ip, agent_port), ""),
                    active=member.get("status") == "ACTIVE",
                    with_rootserver=member.get("with_rootserver") == "YES",
                )
            )
    return servers
