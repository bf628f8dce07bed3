"""The usual duration of a cluster's whole upgrade before a run exists (campaign windows, the preview): the
node list the planner would build for the route's hops and the mode, priced by upgrades/operations/eta.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from upgrades.operations.eta import expected_run_seconds
from upgrades.planning import stages
from upgrades.planning.stages import Topology

if TYPE_CHECKING:
    from upgrades.models import Cluster


def expected_upgrade_seconds(
    *, cluster: Cluster, hops: int, mode: str, freeze_server: bool = False, topology: Topology | None = None
) -> float | None:
    """Expected seconds of an upgrade of `cluster` along a route of `hops` hops (len(plan.route)) in `mode`
    (ROLLING or STOPSERVICE); None when the cluster has no servers or some stage has no history yet.
    Three queries (zones, servers, statistics); pass a loaded `topology` to save two."""
    topology = topology or Topology.of(cluster)
    if not topology.servers or hops < 1:
        return None
    nodes = stages.upgrade_nodes(
        edition=cluster.edition, mode=mode, hops=hops, topology=topology, freeze_server=freeze_server
    )
    servers = len({(agent.ip, agent.agent_port) for node in nodes for agent in node.agents})
    return expected_run_seconds((node.action for node in nodes), servers=servers)
