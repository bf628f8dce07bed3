"""Injected faults (simulated clusters): stored per cluster and node name, taken by the next DAG that
reaches that node. Without a server a fault applies to every sub-task of the node; `times` counts the
node attempts it spoils."""

from django.db import transaction

from upgrades.audit import Actor, audit
from upgrades.errors import bad_request, not_found
from upgrades.models import AuditEntry, Fault, Server
from upgrades.models.cluster import Backend


def fault_inject(*, cluster, node_name, server=None, kind=Fault.Kind.FAIL, times=1, actor=None, reason=""):
    """Store a fault; `server` is a Server or "ip:port" of one of the cluster's agents."""
    if cluster.backend != Backend.SIMULATED:
        raise bad_request("Common.IllegalArgument", "faults can only be injected into simulated clusters")
    if kind not in Fault.Kind.values:
        raise bad_request("Common.IllegalArgument", f"kind must be one of {', '.join(Fault.Kind.values)}")
    if times < 1:
        raise bad_request("Common.IllegalArgument", "times must be at least 1")
    if not node_name.strip():
        raise bad_request("Common.IllegalArgument", "a node name is required")
    if isinstance(server, str):
        ip, _, port = server.rpartition(":")
        found = Server.objects.filter(cluster=cluster, ip=ip, agent_port=int(port) if port.isdigit() else -1).first()
        if found is None:
            raise not_found("Common.NotFound", f"cluster {cluster.name} has no agent {server}")
        server = found
    with transaction.atomic():
        fault = Fault.objects.create(
            cluster=cluster, node_name=node_name.strip(), server=server, kind=kind, times_remaining=times
        )
        audit(
            actor=actor or Actor.system(),
            action=AuditEntry.Action.FAULT_INJECT,
            cluster=cluster,
            detail={"node": fault.node_name, "server": str(server) if server else "", "kind": kind, "times": times},
            reason=reason,
        )
    return fault


def faults_take(*, cluster_id, node_name, sub_tasks, rolling_back=False):
    """Inside the node-start transaction: the faults that fire on this attempt, as (sub_task, fault dict)
    pairs, consuming one use of each fault that matches at least one sub-task. A `fail_rollback` fault fires only
    on a rollback attempt (`rolling_back`), every other kind only on a run."""
    fired = []
    faults = Fault.objects.select_for_update().filter(cluster_id=cluster_id, node_name=node_name)
    if rolling_back:
        faults = faults.filter(kind=Fault.Kind.FAIL_ROLLBACK)
    else:
        faults = faults.exclude(kind=Fault.Kind.FAIL_ROLLBACK)
    for fault in faults.order_by("id"):
        targets = [st for st in sub_tasks if fault.server_id is None or st.server_id == fault.server_id]
        taken = [st for st in targets if all(st is not other for other, _ in fired)]
        if not taken:
            continue
        for sub_task in taken:
            fired.append((sub_task, {"kind": fault.kind, "fault_id": fault.pk}))
        if fault.times_remaining <= 1:
            fault.delete()
        else:
            fault.times_remaining -= 1
            fault.save(update_fields=["times_remaining"])
    return fired
