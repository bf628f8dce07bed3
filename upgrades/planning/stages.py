"""The stage lists of spec 5 (obshell calls them DAG templates): node names, P/S fan-out, capability flags (5.8)
and max_stage (5.6)."""

from dataclasses import dataclass, field

from upgrades.models import Dag
from upgrades.models.cluster import Edition


@dataclass(frozen=True)
class Flags:
    can_retry: bool
    can_rollback: bool
    can_pass: bool
    can_cancel: bool
    can_continue: bool


ALL_OPERATORS = Flags(True, True, True, True, True)
RETRY_CANCEL_CONTINUE = Flags(True, False, False, True, True)
RETRY_PASS_CANCEL_CONTINUE = Flags(True, False, True, True, True)
RETRY_CONTINUE = Flags(True, False, False, False, True)
RETRY_ONLY = Flags(True, False, False, False, False)

# action -> (node name, flags); zone nodes format their name with the zone.
ACTIONS = {
    "check_python": ("Check the python environment", ALL_OPERATORS),
    "create_upgrade_dir": ("Create upgrade dir", ALL_OPERATORS),
    "download_packages": ("Download all required packages", ALL_OPERATORS),
    "check_packages": ("Check all required packages", ALL_OPERATORS),
    "unpack_packages": ("Unpack all required packages", ALL_OPERATORS),
    "backup_for_upgrade": ("Backup for upgrade", ALL_OPERATORS),
    "install_obshell": ("Install new obshell", ALL_OPERATORS),
    "restart_obshell": ("Restart obshell", RETRY_CANCEL_CONTINUE),
    "upgrade_post_table": ("Upgrade post table maintain", RETRY_CANCEL_CONTINUE),
    "backup_parameters": ("Backup parameters", RETRY_CANCEL_CONTINUE),
    "upgrade_checker_script": ("Execute upgrade checker script", RETRY_CONTINUE),
    "upgrade_pre_script": ("Execute upgrade pre script", RETRY_ONLY),
    "upgrade_health_checker_script": ("Execute upgrade health checker script", RETRY_CONTINUE),
    "stop_zone": ("Stop {zone}", RETRY_CONTINUE),
    "minor_freeze": ("Minor freeze before stop server", ALL_OPERATORS),
    "reinstall_observer": ("Reinstall and restart observer", RETRY_CONTINUE),
    "zone_health_checker_script": ("Execute upgrade zone health checker script", RETRY_CONTINUE),
    "start_zone": ("Start {zone}", RETRY_CONTINUE),
    "upgrade_post_script": ("Execute upgrade post script", RETRY_CONTINUE),
    "restore_parameters": ("Restore parameters", RETRY_CONTINUE),
    "remove_upgrade_dir": ("Remove upgrade check task dir", RETRY_PASS_CANCEL_CONTINUE),
}

PREFIX_OBSHELL = (
    "check_python",
    "create_upgrade_dir",
    "download_packages",
    "check_packages",
    "unpack_packages",
    "backup_for_upgrade",
    "install_obshell",
    "restart_obshell",
    "upgrade_post_table",
)
PREFIX_BUSINESS = PREFIX_OBSHELL[:5]
CHECK_DAG = (*PREFIX_BUSINESS, "remove_upgrade_dir")
# obshell's own upgrade (spec 5.7; ob/agent/executor/ob/upgrade_agent_check.go buildAgentUpgradeCheckTemplate and
# upgrade_agent.go buildAgentUpgradeTemplate): the check has no python check and no lock; the upgrade is the
# "Check and upgrade obshell" sub-template (stages 2-9 of the OB upgrade's prefix) plus the clean-up.
AGENT_CHECK_DAG = (*PREFIX_OBSHELL[1:5], "remove_upgrade_dir")
AGENT_UPGRADE_DAG = (*PREFIX_OBSHELL[1:], "remove_upgrade_dir")


@dataclass
class NodeSpec:
    name: str
    action: str
    parallel: bool
    hop: int | None
    zone_name: str
    agents: list = field(default_factory=list)
    can_retry: bool = True
    can_rollback: bool = False
    can_pass: bool = False
    can_cancel: bool = False
    can_continue: bool = False

    def as_dict(self):
        return {
            "name": self.name,
            "action": self.action,
            "parallel": self.parallel,
            "hop": self.hop,
            "zone_name": self.zone_name,
            "agents": [{"server_id": s.pk, "ip": s.ip, "port": s.agent_port} for s in self.agents],
            "can_retry": self.can_retry,
            "can_rollback": self.can_rollback,
            "can_pass": self.can_pass,
            "can_cancel": self.can_cancel,
            "can_continue": self.can_continue,
        }


class Topology:
    """The servers a template fans out over, loaded once: all servers in zone order, zones in DBA_OB_ZONES order."""

    def __init__(self, zones, servers):
        self.zones = list(zones)
        self.servers = list(servers)
        by_zone = {}
        for server in self.servers:
            by_zone.setdefault(server.zone_id, []).append(server)
        self.servers_by_zone = {zone.name: by_zone.get(zone.pk, []) for zone in self.zones}

    @classmethod
    def of(cls, cluster):
        zones = list(cluster.zones.order_by("position", "name"))
        servers = list(cluster.servers.order_by("zone__position", "id"))
        return cls(zones, servers)

    @property
    def agent_server(self):
        """The cluster agent (coordinator): the first server in zone order, as Cluster.agent_server()."""
        return self.servers[0] if self.servers else None


def _node(action, *, agents, parallel, hop=None, zone=""):
    name, flags = ACTIONS[action]
    return NodeSpec(
        name=name.format(zone=zone),
        action=action,
        parallel=parallel,
        hop=hop,
        zone_name=zone,
        agents=list(agents),
        can_retry=flags.can_retry,
        can_rollback=flags.can_rollback,
        can_pass=flags.can_pass,
        can_cancel=flags.can_cancel,
        can_continue=flags.can_continue,
    )


def _rolling_hop(hop, topology, freeze_server):
    serial = [topology.agent_server]
    nodes = [
        _node("backup_parameters", agents=serial, parallel=False, hop=hop),
        _node("upgrade_checker_script", agents=serial, parallel=False, hop=hop),
        _node("upgrade_pre_script", agents=serial, parallel=False, hop=hop),
    ]
    for zone in topology.zones:
        z = zone.name
        nodes.append(_node("upgrade_health_checker_script", agents=serial, parallel=False, hop=hop))
        nodes.append(_node("stop_zone", agents=serial, parallel=False, hop=hop, zone=z))
        if freeze_server:
            nodes.append(_node("minor_freeze", agents=serial, parallel=False, hop=hop, zone=z))
        nodes.append(_node("reinstall_observer", agents=topology.servers_by_zone[z], parallel=True, hop=hop, zone=z))
        nodes.append(_node("zone_health_checker_script", agents=serial, parallel=False, hop=hop, zone=z))
        nodes.append(_node("start_zone", agents=serial, parallel=False, hop=hop, zone=z))
    nodes.append(_node("upgrade_post_script", agents=serial, parallel=False, hop=hop))
    nodes.append(_node("restore_parameters", agents=serial, parallel=False, hop=hop))
    return nodes


def _stop_service_hop(hop, topology, freeze_server):
    serial = [topology.agent_server]
    nodes = [
        _node("backup_parameters", agents=serial, parallel=False, hop=hop),
        _node("upgrade_checker_script", agents=serial, parallel=False, hop=hop),
    ]
    if freeze_server:
        nodes.append(_node("minor_freeze", agents=serial, parallel=False, hop=hop))
    nodes += [
        _node("upgrade_pre_script", agents=serial, parallel=False, hop=hop),
        _node("upgrade_health_checker_script", agents=serial, parallel=False, hop=hop),
        _node("reinstall_observer", agents=topology.servers, parallel=True, hop=hop),
        _node("upgrade_health_checker_script", agents=serial, parallel=False, hop=hop),
        _node("upgrade_post_script", agents=serial, parallel=False, hop=hop),
        _node("restore_parameters", agents=serial, parallel=False, hop=hop),
    ]
    return nodes


def upgrade_nodes(*, edition, mode, hops, topology, freeze_server=False):
    """The node list of `OB rolling upgrade …` / `OB stop service upgrade …` for `hops` route hops (H >= 1)."""
    prefix = PREFIX_BUSINESS if edition == Edition.BUSINESS else PREFIX_OBSHELL
    nodes = [_node(action, agents=topology.servers, parallel=True) for action in prefix]
    hop_block = _rolling_hop if mode == Dag.Mode.ROLLING else _stop_service_hop
    for hop in range(hops):
        nodes += hop_block(hop, topology, freeze_server)
    nodes.append(_node("remove_upgrade_dir", agents=topology.servers, parallel=True))
    return nodes


def check_nodes(*, topology):
    """The 6 parallel nodes of `Upgrade check OB …` (spec 5.7)."""
    return [_node(action, agents=topology.servers, parallel=True) for action in CHECK_DAG]


def agent_check_nodes(*, topology):
    """The 5 parallel nodes of `Upgrade check obshell …` (spec 5.7)."""
    return [_node(action, agents=topology.servers, parallel=True) for action in AGENT_CHECK_DAG]


def agent_upgrade_nodes(*, topology):
    """The 9 parallel nodes of `Upgrade obshell …` (spec 5.7)."""
    return [_node(action, agents=topology.servers, parallel=True) for action in AGENT_UPGRADE_DAG]


def max_stage(*, edition, mode, hops, zones, freeze_server=False):
    """Spec 5.6's arithmetic, independent of the node builder (tests compare the two)."""
    f = 1 if freeze_server else 0
    prefix = 5 if edition == Edition.BUSINESS else 9
    per_hop = 5 + zones * (5 + f) if mode == Dag.Mode.ROLLING else 8 + f
    return prefix + hops * per_hop + 1


def dag_name(*, mode, version, release):
    prefix = "OB rolling upgrade" if mode == Dag.Mode.ROLLING else "OB stop service upgrade"
    return f"{prefix} {version}-{release}"


def check_dag_name(*, version, release):
    return f"Upgrade check OB {version}-{release}"


def agent_check_dag_name(*, version, release):
    return f"Upgrade check obshell {version}-{release}"


def agent_dag_name(*, version, release):
    return f"Upgrade obshell {version}-{release}"
