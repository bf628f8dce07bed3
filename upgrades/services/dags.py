"""Starting upgrade DAGs and operating on them (obshell spec sections 4.9, 6.3 and 6.4)."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from upgrades.audit import audit, audit_refusals
from upgrades.bulk import insert_rows
from upgrades.dag_locks import lock_dag
from upgrades.errors import ObshellError, bad_request, maintenance_in_progress, server_error
from upgrades.events import emit, emit_dag, emit_node, emit_sub_task
from upgrades.models import Dag, Node, SubTask, TaskLog
from upgrades.models.dag import EPOCH, MaintenanceType, Operator, State
from upgrades.snapshots import dag_payload
from upgrades.task_logs import CANCELLED_LINE, append_logs

DEFAULT_TIMEOUT_SECONDS = 3600


def upgrade_start(*, cluster, version, release, mode, upgrade_dir="", freeze_server=False, actor, reason=""):
    """Plan the upgrade; refuse (audited, nothing created) on the first failed pre-check; otherwise create
    the DAG, its nodes and sub-tasks and take the cluster's maintenance lock in one transaction."""
    from upgrades.planning.plan import plan_upgrade

    plan = plan_upgrade(
        cluster=cluster,
        version=version,
        release=release,
        mode=mode,
        upgrade_dir=upgrade_dir,
        freeze_server=freeze_server,
    )
    _refuse_failed_plan(plan, actor=actor, action="upgrade.start", reason=reason)
    return dag_create_from_plan(plan=plan, actor=actor, reason=reason)


def upgrade_check_start(*, cluster, version, release, upgrade_dir="", actor):
    """The non-maintenance check DAG (spec 5.7): takes no lock."""
    from upgrades.planning.plan import plan_upgrade_check

    plan = plan_upgrade_check(cluster=cluster, version=version, release=release, upgrade_dir=upgrade_dir)
    _refuse_failed_plan(plan, actor=actor, action="upgrade_check.start", reason="")
    return dag_create_from_plan(plan=plan, actor=actor)


def _refuse_failed_plan(plan, *, actor, action, reason):
    if plan.error is None:
        return
    detail = {"version": plan.version, "release": plan.release}
    with audit_refusals(actor=actor, action=action, cluster=plan.cluster, reason=reason, detail=detail):
        raise plan.error


def dag_create_from_plan(*, plan, actor, reason="", timeout_seconds=None):
    """Freeze the plan into a new DAG. A maintenance plan takes the cluster lock; the partial unique index
    on Dag.holds_lock makes concurrent starts create exactly one DAG."""
    if not plan.nodes or plan.max_stage != len(plan.nodes):
        raise server_error("Common.Unexpected", f"Unexpected error: the plan for '{plan.dag_name}' has no runnable nodes")
    takes_lock = plan.maintenance_type == MaintenanceType.GLOBAL
    action = "upgrade.start" if takes_lock else "upgrade_check.start"
    timeout = timeout_seconds or getattr(plan, "timeout_seconds", None) or DEFAULT_TIMEOUT_SECONDS
    try:
        with transaction.atomic():
            dag = Dag.objects.create(
                cluster=plan.cluster,
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
            )
            _create_nodes(dag, plan.nodes)
            emit(dag.pk, "dag.created", {"dag": dag_payload(dag)})
            audit(
                actor=actor,
                action=action,
                cluster=plan.cluster,
                dag=dag,
                reason=reason,
                detail={"dag": dag.generic_id, "name": dag.name, "from": dag.from_version, "to": dag.to_version},
            )
    except IntegrityError:
        holder = Dag.objects.filter(cluster=plan.cluster, holds_lock=True).first()
        with audit_refusals(actor=actor, action=action, cluster=plan.cluster, reason=reason):
            raise _maintenance_refusal(plan.dag_name, holder) from None
    return dag


def _maintenance_refusal(dag_name, holder):
    return maintenance_in_progress(holder_name=holder.name if holder is not None else "another DAG", dag_name=dag_name)


def _create_nodes(dag, specs):
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


# Operators.


def dag_operate(*, dag, operator, actor, reason=""):
    """RETRY, ROLLBACK, CANCEL or PASS (case-insensitive) with obshell's preconditions; audited either way."""
    op = (operator or "").strip().upper()
    handler = _OPERATORS.get(op)
    refused = {"operator": op or str(operator)}
    with audit_refusals(
        actor=actor, action="dag.operate", cluster=dag.cluster, dag=dag, reason=reason, detail=refused
    ):
        if handler is None:
            raise bad_request("Task.Dag.Operator.NotSupport", f"Operator {operator} is not supported")
        with transaction.atomic():
            locked = lock_dag(dag.pk)
            emit(locked.pk, "operator.applied", {"operator": op, "actor": actor.label, "reason": reason})
            handler(locked)
            audit(
                actor=actor,
                action="dag.operate",
                cluster=locked.cluster,
                dag=locked,
                reason=reason,
                detail={"operator": op},
            )
    dag.refresh_from_db()
    return dag


def _save_dag(dag, expected_state, **fields):
    """Guarded write of the DAG row: a concurrent change gives obshell's Gorm.NoRowAffected."""
    if Dag.objects.filter(pk=dag.pk, state=expected_state).update(**fields) != 1:
        raise server_error("Gorm.NoRowAffected", "failed to update dag operator: no row affected")
    for name, value in fields.items():
        setattr(dag, name, value)
    emit_dag(dag)


def _retry(dag):
    if dag.state != State.FAILED:
        raise bad_request("Task.Dag.Operator.RetryNotFailedDag", "Failed to set DAG retry: DAG state is not failed")
    node = Node.objects.get(dag=dag, seq=dag.stage)
    if not node.can_retry:
        raise bad_request(
            "Task.Dag.Operator.RetryNotAllowed", f"Failed to set DAG retry: node {node.name} cannot retry"
        )
    holds_lock = dag.holds_lock
    if dag.maintenance_type == MaintenanceType.GLOBAL and not holds_lock:
        try:
            with transaction.atomic():
                Dag.objects.filter(pk=dag.pk).update(holds_lock=True)
        except IntegrityError:
            raise _maintenance_refusal(
                dag.name, Dag.objects.filter(cluster=dag.cluster, holds_lock=True).first()
            ) from None
        holds_lock = True
    # Retrying a failed rollback retries the rollback; otherwise the DAG runs forward again (operator RUN).
    rolling_back = dag.operator == Operator.ROLLBACK
    _save_dag(
        dag,
        State.FAILED,
        state=State.READY,
        operator=Operator.ROLLBACK if rolling_back else Operator.RUN,
        start_time=EPOCH,
        end_time=EPOCH,
        is_finished=False,
        holds_lock=holds_lock,
    )
    _update(node, emit_node, state=State.PENDING, operator=Operator.ROLLBACK if rolling_back else Operator.RETRY)
    for sub_task in SubTask.objects.filter(node=node, state=State.FAILED).order_by("id"):
        _update(sub_task, emit_sub_task, state=State.PENDING, operator=node.operator, rollback_pending=not rolling_back)


def _rollback(dag):
    if dag.state != State.FAILED:
        raise bad_request(
            "Task.Dag.Operator.RollbackNotFailedDag", "Failed to set DAG rollback: DAG state is not failed"
        )
    nodes = list(Node.objects.filter(dag=dag, seq__lte=dag.stage).order_by("seq"))
    for node in nodes:
        if not node.can_rollback:
            raise bad_request(
                "Task.Dag.Operator.RollbackNotAllowed", f"Failed to set DAG rollback: node {node.name} cannot rollback"
            )
    if not any(node.state == State.FAILED for node in nodes):
        raise ObshellError(
            "Common.Unexpected", "Unexpected error: failed to set dag rollback: no node failed", status=500
        )
    _save_dag(
        dag,
        State.FAILED,
        state=State.READY,
        operator=Operator.ROLLBACK,
        start_time=EPOCH,
        end_time=EPOCH,
        is_finished=False,
    )
    for node in nodes:
        _update(node, emit_node, state=State.PENDING, operator=Operator.ROLLBACK)
        for sub_task in SubTask.objects.filter(node=node).order_by("id"):
            _update(sub_task, emit_sub_task, state=State.PENDING, operator=Operator.ROLLBACK, rollback_pending=False)


def _cancel(dag):
    if dag.state not in (State.PENDING, State.READY, State.RUNNING):
        raise bad_request("Task.Dag.Operator.CancelFinishedDag", "Failed to cancel DAG: DAG is finished")
    for node in Node.objects.filter(dag=dag, seq__lte=dag.stage).order_by("seq"):
        if not node.can_cancel:
            raise bad_request(
                "Task.Dag.Operator.CancelNotAllowed", f"Failed to cancel DAG: node {node.name} cannot cancel"
            )
    now = timezone.now()
    node = Node.objects.get(dag=dag, seq=dag.stage)
    # Running executors notice on their next check that the sub-task is no longer theirs and stop.
    for sub_task in SubTask.objects.filter(node=node, state__in=(State.READY, State.RUNNING)).order_by("id"):
        append_logs(sub_task, [(TaskLog.Level.INFO, CANCELLED_LINE)])
        _update(sub_task, emit_sub_task, state=State.FAILED, operator=Operator.CANCEL, end_time=now, **_NO_LEASE)
    _update(node, emit_node, state=State.FAILED, operator=Operator.CANCEL, end_time=now)
    _save_dag(
        dag,
        dag.state,
        state=State.FAILED,
        operator=Operator.CANCEL,
        start_time=EPOCH,
        end_time=now,
        is_finished=not dag.holds_lock,
    )


def _pass(dag):
    if dag.state != State.FAILED:
        raise bad_request("Task.Dag.Operator.PassNotFailedDag", "Failed to pass DAG: DAG is not failed")
    nodes = list(Node.objects.filter(dag=dag, seq__gte=dag.stage).order_by("seq"))
    for node in nodes:
        if not node.can_pass:
            raise bad_request("Task.Dag.Operator.PassNotAllowed", f"Failed to pass DAG: node {node.name} cannot pass")
    now = timezone.now()
    for node in nodes:
        _pass_node(node, now)
    _save_dag(
        dag,
        State.FAILED,
        state=State.SUCCEED,
        operator=Operator.PASS,
        end_time=now,
        is_finished=True,
        holds_lock=False,
    )


def _pass_node(node, now):
    for sub_task in SubTask.objects.filter(node=node).exclude(state=State.SUCCEED).order_by("id"):
        _update(sub_task, emit_sub_task, state=State.SUCCEED, operator=Operator.PASS, end_time=now, **_NO_LEASE)
    _update(node, emit_node, state=State.SUCCEED, operator=Operator.PASS, end_time=now)


_NO_LEASE = {"lease_owner": "", "lease_expires_at": None}


def _update(row, emit_row, **fields):
    """Set fields on a node or sub-task, save just those, and emit its new state."""
    for name, value in fields.items():
        setattr(row, name, value)
    row.save(update_fields=list(fields))
    emit_row(row)


_OPERATORS = {"RETRY": _retry, "ROLLBACK": _rollback, "CANCEL": _cancel, "PASS": _pass}


def node_pass(*, node, actor, reason=""):
    """Pass one FAILED node: it becomes SUCCEED/PASS and the DAG continues with the next node."""
    refused = {"node": node.generic_id}
    with audit_refusals(
        actor=actor, action="node.pass", cluster=node.dag.cluster, dag=node.dag, reason=reason, detail=refused
    ), transaction.atomic():
        dag = lock_dag(node.dag_id)
        node.refresh_from_db()
        if dag.state != State.FAILED:
            raise bad_request("Task.Node.Operator.PassNotFailedDag", "Failed to pass node: DAG is not failed")
        if node.state != State.FAILED:
            raise bad_request("Task.Node.Operator.PassNotFailedNode", "Failed to pass node: node is not failed")
        if not node.can_pass:
            raise bad_request(
                "Task.Node.Operator.PassNotAllowed", f"Failed to pass node: node {node.name} cannot pass"
            )
        emit(
            dag.pk,
            "operator.applied",
            {"operator": "PASS", "actor": actor.label, "reason": reason, "node_id": node.pk},
        )
        _pass_node(node, timezone.now())
        _save_dag(
            dag,
            State.FAILED,
            state=State.READY,
            operator=Operator.RUN,
            start_time=EPOCH,
            end_time=EPOCH,
            is_finished=False,
        )
        audit(
            actor=actor,
            action="node.pass",
            cluster=dag.cluster,
            dag=dag,
            reason=reason,
            detail={"node": node.generic_id, "name": node.name},
        )
    node.refresh_from_db()
    return node
