"""Fault drills from the pages: arm a fault on a simulated cluster's stage (optionally one server), list what is
armed, disarm it. Arming goes through the backend's `fault_inject` (the same as `manage.py inject_fault`); every
arm and disarm is audited, a refusal too, with the reason the user gave."""

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from upgrades.audit import Actor, audit, audit_refusals, reason_checked
from upgrades.backends.faults import fault_inject
from upgrades.errors import ObshellError, bad_request, not_found
from upgrades.models import AuditEntry, Cluster, Dag, Fault, Node, Server, SubTask
from upgrades.models.cluster import Backend
from upgrades.planning import stages as stage_lists
from upgrades.planning.stages import Topology

KIND_LABELS = {
    Fault.Kind.FAIL: _("Fail"),
    Fault.Kind.HANG: _("Hang"),
    Fault.Kind.CRASH: _("Crash the worker"),
    Fault.Kind.FAIL_ROLLBACK: _("Fail its rollback"),
}
KIND_HELP = {
    Fault.Kind.FAIL: _("the stage's step reports an error, N times in a row"),
    Fault.Kind.HANG: _("the step waits for an answer that never comes (until cancelled or timed out)"),
    Fault.Kind.CRASH: _("the worker running the step dies; the lease expires and the run continues or fails"),
    Fault.Kind.FAIL_ROLLBACK: _("the stage's rollback action reports an error when the run is rolled back, N times"),
}


def real_cluster_refusal(cluster: Cluster) -> ObshellError:
    return bad_request(
        "Fault.RealCluster",
        f"Fault drills run only on simulated clusters: {cluster.name} is a real cluster (obshell backend), so "
        f"nothing was armed.",
    )


def fault_arm(
    *,
    cluster: Cluster,
    node_name: str,
    kind: str = Fault.Kind.FAIL,
    times: int = 1,
    server: Server | str | None = None,
    actor: Actor,
    reason: str = "",
) -> Fault:
    """Arm a fault: it fires on the next DAG of `cluster` that starts (or retries) the named stage."""
    reason = reason_checked(reason).strip()
    detail = {"node": (node_name or "").strip(), "server": str(server or ""), "kind": kind, "times": times}
    with audit_refusals(
        actor=actor, action=AuditEntry.Action.FAULT_INJECT, cluster=cluster, reason=reason, detail=detail
    ):
        if cluster.backend != Backend.SIMULATED:
            raise real_cluster_refusal(cluster)
        if server is not None and not isinstance(server, str) and server.cluster_id != cluster.pk:
            raise not_found("Common.NotFound", f"cluster {cluster.name} has no server {server}")
        return fault_inject(
            cluster=cluster,
            node_name=node_name or "",
            server=server,
            kind=kind,
            times=times,
            actor=actor,
            reason=reason,
        )


def fault_disarm(*, cluster: Cluster, fault_id: int, actor: Actor, reason: str = "") -> dict[str, Any]:
    """Remove an armed fault; refused (and audited) when it already fired its last time or was disarmed."""
    reason = reason_checked(reason).strip()
    with (
        audit_refusals(
            actor=actor,
            action=AuditEntry.Action.FAULT_DISARM,
            cluster=cluster,
            reason=reason,
            detail={"fault": fault_id},
        ),
        transaction.atomic(),
    ):
        fault = (
            Fault.objects.select_for_update(of=("self",))
            .select_related("server")
            .filter(pk=fault_id, cluster=cluster)
            .first()
        )
        if fault is None:
            raise not_found(
                "Fault.NotFound", f"fault {fault_id} is no longer armed on {cluster.name}: it fired or was disarmed"
            )
        detail = {
            "fault": fault.pk,
            "node": fault.node_name,
            "server": str(fault.server or ""),
            "kind": fault.kind,
            "times_remaining": fault.times_remaining,
        }
        fault.delete()
        audit(actor=actor, action=AuditEntry.Action.FAULT_DISARM, cluster=cluster, reason=reason, detail=detail)
    return detail


# Reads.


def faults_armed(cluster: Cluster) -> list[Fault]:
    return list(Fault.objects.filter(cluster=cluster).select_related("server").order_by("id"))


@dataclass(frozen=True)
class DrillStage:
    name: str
    servers: tuple[tuple[int, str], ...]  # (server_id, "ip:port") pairs of the agents that run the stage


def drill_stages(cluster: Cluster, dag_id: int | None = None) -> list[DrillStage]:
    """The stages a fault can be armed on: a run's own stages (run page), else those of an upgrade of this
    cluster in its default mode, minor freeze included (cluster page). Names are unique, in stage order."""
    stages: dict[str, DrillStage] = {}
    if dag_id is not None:
        agents: dict[int, list[tuple[int, str]]] = {}
        for node_id, server_id, ip, port in SubTask.objects.filter(dag_id=dag_id).values_list(
            "node_id", "server_id", "agent_ip", "agent_port"
        ):
            agents.setdefault(node_id, []).append((server_id, f"{ip}:{port}"))
        for node_id, name in Node.objects.filter(dag_id=dag_id).order_by("seq").values_list("id", "name"):
            stages.setdefault(name, DrillStage(name, tuple(agents.get(node_id, ()))))
        return list(stages.values())
    topology = Topology.of(cluster)
    if not topology.servers:
        return []
    rolling = len(topology.zones) >= (2 if cluster.shared_storage else 3)
    nodes = stage_lists.upgrade_nodes(
        edition=cluster.edition,
        mode=Dag.Mode.ROLLING if rolling else Dag.Mode.STOPSERVICE,
        hops=1,
        topology=topology,
        freeze_server=True,
    )
    for node in nodes:
        servers = tuple((s.pk, f"{s.ip}:{s.agent_port}") for s in node.agents)
        stages.setdefault(node.name, DrillStage(node.name, servers))
    return list(stages.values())
