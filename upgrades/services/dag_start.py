"""Starting upgrade DAGs: plan, refuse on a failed pre-check, or freeze the plan into a DAG with its nodes
and sub-tasks and take the cluster's maintenance lock (obshell spec section 4.9)."""

from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction

from upgrades.audit import Actor, audit, audit_refusals, reason_checked
from upgrades.bulk import insert_rows
from upgrades.errors import ObshellError, maintenance_in_progress, server_error
from upgrades.events import emit
from upgrades.models import AuditEntry, Cluster, Dag, DagEvent, Node, SubTask
from upgrades.models.cluster import Backend
from upgrades.models.dag import MaintenanceType
from upgrades.snapshots import dag_payload

if TYPE_CHECKING:
    from upgrades.planning.plan import Plan
    from upgrades.planning.stages import NodeSpec

DEFAULT_TIMEOUT_SECONDS = 3600


def upgrade_start(
    *,
    cluster: Cluster,
    version: str,
    release: str,
    mode: str,
    upgrade_dir: str = "",
    freeze_server: bool = False,
    actor: Actor,
    reason: str = "",
) -> Dag:
    """Plan the upgrade; refuse (audited, nothing created) on the first failed pre-check; otherwise create
    the DAG, its nodes and sub-tasks and take the cluster's maintenance lock in one transaction."""
    from upgrades.planning.plan import plan_upgrade

    reason = reason_checked(reason)
    if cluster.backend == Backend.OBSHELL:
        from upgrades.services.real_upgrades import remote_upgrade_start

        return remote_upgrade_start(
            cluster=cluster,
            version=version,
            release=release,
            mode=mode,
            upgrade_dir=upgrade_dir,
            freeze_server=freeze_server,
            actor=actor,
            reason=reason,
        )

    plan = plan_upgrade(
        cluster=cluster,
        version=version,
        release=release,
        mode=mode,
        upgrade_dir=upgrade_dir,
        freeze_server=freeze_server,
    )
    _refuse_failed_plan(plan, actor=actor, action=AuditEntry.Action.UPGRADE_START, reason=reason)
    return dag_create_from_plan(plan=plan, actor=actor, reason=reason)


def upgrade_check_start(*, cluster: Cluster, version: str, release: str, upgrade_dir: str = "", actor: Actor) -> Dag:
    """The non-maintenance check DAG (spec 5.7): takes no lock. On a real cluster it is the agent's own check."""
    from upgrades.planning.plan import plan_upgrade_check

    if cluster.backend == Backend.OBSHELL:
        from upgrades.services.real_upgrades import remote_upgrade_start

        return remote_upgrade_start(
            cluster=cluster, version=version, release=release, mode="", upgrade_dir=upgrade_dir, actor=actor, check=True
        )

    plan = plan_upgrade_check(cluster=cluster, version=version, release=release, upgrade_dir=upgrade_dir)
    _refuse_failed_plan(plan, actor=actor, action=AuditEntry.Action.UPGRADE_CHECK_START, reason="")
    return dag_create_from_plan(plan=plan, actor=actor)


def agent_upgrade_start(
    *, cluster: Cluster, version: str, release: str, upgrade_dir: str = "", actor: Actor, reason: str = ""
) -> Dag:
    """`Upgrade obshell <v>-<r>` (spec 5.7): obshell's agent pre-checks, then the 9-node DAG under the cluster's
    maintenance lock, the lock an OB upgrade takes (so each refuses the other while it holds it)."""
    from upgrades.planning.agent_plan import plan_agent_upgrade

    reason = reason_checked(reason)
    if cluster.backend == Backend.OBSHELL:
        from upgrades.services.real_upgrades import remote_agent_upgrade_start

        return remote_agent_upgrade_start(
            cluster=cluster, version=version, release=release, upgrade_dir=upgrade_dir, actor=actor, reason=reason
        )
    plan = plan_agent_upgrade(cluster=cluster, version=version, release=release, upgrade_dir=upgrade_dir)
    _refuse_failed_plan(plan, actor=actor, action=AuditEntry.Action.AGENT_UPGRADE_START, reason=reason)
    return dag_create_from_plan(plan=plan, actor=actor, reason=reason)


def agent_upgrade_check_start(
    *, cluster: Cluster, version: str, release: str, upgrade_dir: str = "", actor: Actor
) -> Dag:
    """`Upgrade check obshell <v>-<r>` (spec 5.7): the same pre-checks, 5 nodes, no lock."""
    from upgrades.planning.agent_plan import plan_agent_upgrade

    if cluster.backend == Backend.OBSHELL:
        from upgrades.services.real_upgrades import remote_agent_upgrade_start

        return remote_agent_upgrade_start(
            cluster=cluster, version=version, release=release, upgrade_dir=upgrade_dir, actor=actor, check=True
        )
    plan = plan_agent_upgrade(
        cluster=cluster, version=version, release=release, upgrade_dir=upgrade_dir, check_only=True
    )
    _refuse_failed_plan(plan, actor=actor, action=AuditEntry.Action.AGENT_UPGRADE_CHECK_START, reason="")
    return dag_create_from_plan(plan=plan, actor=actor)


# The audit action of starting each kind of DAG.
START_ACTIONS: dict[str, str] = {
    Dag.Kind.UPGRADE: AuditEntry.Action.UPGRADE_START,
    Dag.Kind.UPGRADE_CHECK: AuditEntry.Action.UPGRADE_CHECK_START,
    Dag.Kind.AGENT_UPGRADE: AuditEntry.Action.AGENT_UPGRADE_START,
    Dag.Kind.AGENT_UPGRADE_CHECK: AuditEntry.Action.AGENT_UPGRADE_CHECK_START,
}


def _refuse_failed_plan(plan: "Plan", *, actor: Actor, action: str, reason: str) -> None:
    if plan.error is None:
        return
    detail = {"version": plan.version, "release": plan.release}
    with audit_refusals(actor=actor, action=action, cluster=plan.cluster, reason=reason, detail=detail):
        raise plan.error


def dag_create_from_plan(*, plan: "Plan", actor: Actor, reason: str = "", timeout_seconds: int | None = None) -> Dag:
    """Freeze the plan into a new DAG. A maintenance plan takes the cluster lock; the partial unique index
    on Dag.holds_lock makes concurrent starts create exactly one DAG."""
    reason = reason_checked(reason)
    if not plan.nodes or plan.max_stage != len(plan.nodes):
        raise server_error(
            "Common.Unexpected", f"Unexpected error: the plan for '{plan.dag_name}' has no runnable nodes"
        )
    cluster = plan.cluster
    takes_lock = plan.maintenance_type == MaintenanceType.GLOBAL
    action = START_ACTIONS[plan.kind]
    timeout = timeout_seconds or getattr(plan, "timeout_seconds", None) or DEFAULT_TIMEOUT_SECONDS
    try:
        with transaction.atomic():
            dag = Dag.objects.create(
                cluster=cluster,
                kind=plan.kind,
                name=plan.dag_name,
                stage=1,
                max_stage=plan.max_stage,
                maintenance_type=plan.maintenance_type,
                holds_lock=takes_lock,
                version=plan.version,
                release=plan.release,
                mode=plan.mode or "",
                upgrade_dir=plan.upgrade_dir or "",
                freeze_server=plan.freeze_server,
                from_version=plan.from_version,
                to_version=plan.to_version,
                route=plan.route,
                plan=plan.as_dict(),
                timeout_seconds=timeout,
                started_by=actor.user,
                started_by_token=actor.token,
                actor_label=actor.label,
                reason=reason,
                server_count=len({(agent.ip, agent.agent_port) for spec in plan.nodes for agent in spec.agents}),
            )
            _create_nodes(dag, plan.nodes)
            emit(dag.pk, DagEvent.Kind.DAG_CREATED, {"dag": dag_payload(dag)})
            audit(
                actor=actor,
                action=action,
                cluster=cluster,
                dag=dag,
                reason=reason,
                detail={"dag": dag.generic_id, "name": dag.name, "from": dag.from_version, "to": dag.to_version},
            )
    except IntegrityError:
        with audit_refusals(actor=actor, action=action, cluster=cluster, reason=reason):
            raise maintenance_refusal(cluster=cluster, dag_name=plan.dag_name) from None
    return dag


def maintenance_refusal(*, cluster: Cluster, dag_name: str) -> ObshellError:
    """The error that refuses DAG `dag_name` the cluster's maintenance lock, naming the DAG that holds it."""
    holder = Dag.objects.filter(cluster=cluster, holds_lock=True).first()
    return maintenance_in_progress(holder_name=holder.name if holder is not None else "another DAG", dag_name=dag_name)


def _create_nodes(dag: Dag, specs: Sequence["NodeSpec"]) -> None:
    insert_rows(
        Node,
        [
            {
                "dag_id": dag.pk,
                "seq": seq,
                "name": spec.name,
                "action": spec.action,
                "parallel": spec.parallel,
                "hop": spec.hop,
                "zone_name": spec.zone_name or "",
                "can_retry": spec.can_retry,
                "can_rollback": spec.can_rollback,
                "can_pass": spec.can_pass,
                "can_cancel": spec.can_cancel,
                "can_continue": spec.can_continue,
            }
            for seq, spec in enumerate(specs, start=1)
        ],
    )
    node_ids = Node.objects.filter(dag=dag).order_by("seq").values_list("pk", flat=True)
    insert_rows(
        SubTask,
        [
            {
                "node_id": node_id,
                "dag_id": dag.pk,
                "name": spec.name,
                "server_id": agent.pk,
                "agent_ip": agent.ip,
                "agent_port": agent.agent_port,
            }
            for node_id, spec in zip(node_ids, specs, strict=True)
            for agent in spec.agents
        ],
    )
