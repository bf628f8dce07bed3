"""Operating on upgrade DAGs: RETRY, ROLLBACK, CANCEL and PASS on a DAG and PASS on one node (obshell spec
sections 6.3 and 6.4). Whether an operator may run is upgrades.operator_rules' answer; these apply it."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone

from upgrades.audit import Actor, audit, audit_refusals, reason_checked
from upgrades.dag_locks import lock_dag
from upgrades.errors import bad_request, server_error
from upgrades.events import emit, emit_dag, emit_node, emit_sub_task
from upgrades.models import AuditEntry, Dag, DagEvent, Node, SubTask, TaskLog
from upgrades.models.dag import EPOCH, MaintenanceType, Operator, State
from upgrades.operator_rules import (
    continue_rollback_refusal,
    node_pass_refusal,
    nodes_to_pass,
    operator_refusal,
    stages_retry_leaves_rolled_back,
)
from upgrades.services.dag_start import maintenance_refusal
from upgrades.task_logs import CANCELLED_LINE, append_logs


def dag_operate(*, dag: Dag, operator: str, actor: Actor, reason: str = "") -> Dag:
    """RETRY, ROLLBACK, CANCEL or PASS (case-insensitive) with obshell's preconditions; audited either way."""
    reason = reason_checked(reason)
    if dag.remote_dag_id:
        from upgrades.services.real_upgrades import remote_dag_operate

        return remote_dag_operate(dag=dag, operator=operator, actor=actor, reason=reason)
    op = (operator or "").strip().upper()
    if op not in _OPERATORS:
        reason = reason_checked(reason)
        with audit_refusals(
            actor=actor,
            action=AuditEntry.Action.DAG_OPERATE,
            cluster=dag.cluster,
            dag=dag,
            reason=reason,
            detail={"operator": op or str(operator)},
        ):
            raise bad_request("Task.Dag.Operator.NotSupport", f"Operator {operator} is not supported")
    return _operate(dag=dag, op=op, actor=actor, reason=reason, action=AuditEntry.Action.DAG_OPERATE)


def dag_continue_rollback(*, dag: Dag, actor: Actor, reason: str = "") -> Dag:
    """ "Continue rollback": ROLLBACK again on a DAG whose rollback failed, audited as its own action so the audit
    log tells it from a first rollback (and from a RETRY, which after a failed rollback runs forward instead)."""
    if dag.remote_dag_id:
        from upgrades.services.real_upgrades import remote_dag_operate

        return remote_dag_operate(dag=dag, operator="ROLLBACK", actor=actor, reason=reason)
    return _operate(
        dag=dag,
        op="ROLLBACK",
        actor=actor,
        reason=reason,
        action=AuditEntry.Action.DAG_CONTINUE_ROLLBACK,
        refusal=continue_rollback_refusal,
    )


def _operate(
    *,
    dag: Dag,
    op: str,
    actor: Actor,
    reason: str,
    action: str,
    refusal: Callable[[Dag, list[Node]], Any] | None = None,
) -> Dag:
    reason = reason_checked(reason)
    with (
        audit_refusals(
            actor=actor, action=action, cluster=dag.cluster, dag=dag, reason=reason, detail={"operator": op}
        ),
        transaction.atomic(),
    ):
        locked = lock_dag(dag.pk)
        nodes = list(Node.objects.filter(dag=locked).order_by("seq"))
        refused = refusal(locked, nodes) if refusal is not None else operator_refusal(locked, op, nodes)
        if refused is not None:
            raise refused
        detail: dict[str, Any] = {"operator": op}
        if op == "RETRY":
            left = stages_retry_leaves_rolled_back(locked, nodes)
            if left:
                detail["leaves_rolled_back"] = [node.seq for node in left]
        emit(locked.pk, DagEvent.Kind.OPERATOR_APPLIED, {"operator": op, "actor": actor.label, "reason": reason})
        _OPERATORS[op](locked, nodes)
        audit(actor=actor, action=action, cluster=locked.cluster, dag=locked, reason=reason, detail=detail)
    dag.refresh_from_db()
    return dag


def node_pass(*, node: Node, actor: Actor, reason: str = "") -> Node:
    """Pass one FAILED node: it becomes SUCCEED/PASS and the DAG continues with the next node."""
    reason = reason_checked(reason)
    if node.remote_id:
        from upgrades.services.real_upgrades import remote_node_pass

        return remote_node_pass(node=node, actor=actor, reason=reason)
    refused = {"node": node.generic_id}
    with (
        audit_refusals(
            actor=actor,
            action=AuditEntry.Action.NODE_PASS,
            cluster=node.dag.cluster,
            dag=node.dag,
            reason=reason,
            detail=refused,
        ),
        transaction.atomic(),
    ):
        dag = lock_dag(node.dag_id)
        node.refresh_from_db()
        refusal = node_pass_refusal(dag, node)
        if refusal is not None:
            raise refusal
        emit(
            dag.pk,
            DagEvent.Kind.OPERATOR_APPLIED,
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
            action=AuditEntry.Action.NODE_PASS,
            cluster=dag.cluster,
            dag=dag,
            reason=reason,
            detail={"node": node.generic_id, "name": node.name},
        )
    node.refresh_from_db()
    return node


# Each operator's effect, once operator_rules allowed it; `nodes` are the DAG's nodes in seq order.


def _retry(dag: Dag, nodes: list[Node]) -> None:
    node = _current(dag, nodes)
    holds_lock = dag.holds_lock
    if dag.maintenance_type == MaintenanceType.GLOBAL and not holds_lock:
        try:
            with transaction.atomic():
                Dag.objects.filter(pk=dag.pk).update(holds_lock=True)
        except IntegrityError:
            raise maintenance_refusal(cluster=dag.cluster, dag_name=dag.name) from None
        holds_lock = True
    # obshell (ob/agent/service/task/dag.go txForRetryAndReadyDag) sets the DAG's operator to RUN whatever it was:
    # after a failed ROLLBACK too, a RETRY runs the DAG forward from the node whose rollback failed. Its failed
    # sub-tasks roll back first and run again (scheduler/task_handler.go retryHandler: a FAILED sub-task from the
    # earlier attempt is set rollback-ready, then run-ready); sub-tasks that succeeded (or were rolled back) are not
    # re-run, and later nodes already rolled back are SUCCEED, which the engine passes over like obshell's
    # advanceDag. The run page warns before such a RETRY and offers "Continue rollback" (dag_continue_rollback).
    _save_dag(
        dag,
        State.FAILED,
        state=State.READY,
        operator=Operator.RUN,
        start_time=EPOCH,
        end_time=EPOCH,
        is_finished=False,
        holds_lock=holds_lock,
    )
    _update(node, emit_node, state=State.PENDING, operator=Operator.RETRY, start_time=EPOCH, end_time=EPOCH)
    for sub_task in SubTask.objects.filter(node=node, state=State.FAILED).order_by("id"):
        _update(sub_task, emit_sub_task, state=State.PENDING, rollback_pending=True)


def _rollback(dag: Dag, nodes: list[Node]) -> None:
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
        if node.seq > dag.stage:
            break
        _update(node, emit_node, state=State.PENDING, operator=Operator.ROLLBACK)
        for sub_task in SubTask.objects.filter(node=node).order_by("id"):
            _update(sub_task, emit_sub_task, state=State.PENDING, operator=Operator.ROLLBACK, rollback_pending=False)


def _cancel(dag: Dag, nodes: list[Node]) -> None:
    # obshell's CANCEL is two steps (ob/agent/service/task/dag.go txForCancelDag, then the scheduler's next tick:
    # engine/scheduler/dag_handler.go startDag, node_handler.go startNode, task_handler.go cancelHandler): the DAG
    # READY/CANCEL and the node PENDING/CANCEL with zero times, then the DAG and the node restart (start_time now),
    # the node's READY and RUNNING sub-tasks are set FAILED with the log line `sub task cancelled` and their end
    # time (SetSubTaskFailed keeps their operator), PENDING ones stay PENDING, and node and DAG finish FAILED (end
    # time now). Here both steps are one transaction, so the rows read as obshell's do once its tick has run.
    now = timezone.now()
    node = _current(dag, nodes)
    # Running executors notice on their next check that the sub-task is no longer theirs and stop.
    for sub_task in SubTask.objects.filter(node=node, state__in=(State.READY, State.RUNNING)).order_by("id"):
        append_logs(sub_task, [(TaskLog.Level.INFO, CANCELLED_LINE)])
        _update(sub_task, emit_sub_task, state=State.FAILED, end_time=now, **_NO_LEASE)
    _update(node, emit_node, state=State.FAILED, operator=Operator.CANCEL, start_time=now, end_time=now)
    _save_dag(
        dag,
        dag.state,
        state=State.FAILED,
        operator=Operator.CANCEL,
        start_time=now,
        end_time=now,
        is_finished=not dag.holds_lock,
    )


def _pass(dag: Dag, nodes: list[Node]) -> None:
    # obshell (dag.go txForPassDag): the nodes from the last failed one on become SUCCEED/PASS with the DAG's new
    # end time (their start times kept), so do their sub-tasks that had not succeeded; the DAG keeps its start time.
    now = timezone.now()
    for node in nodes_to_pass(nodes):
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


_OPERATORS = {"RETRY": _retry, "ROLLBACK": _rollback, "CANCEL": _cancel, "PASS": _pass}


def _current(dag: Dag, nodes: list[Node]) -> Node:
    return next(node for node in nodes if node.seq == dag.stage)


def _pass_node(node: Node, now: datetime) -> None:
    for sub_task in SubTask.objects.filter(node=node).exclude(state=State.SUCCEED).order_by("id"):
        _update(sub_task, emit_sub_task, state=State.SUCCEED, operator=Operator.PASS, end_time=now, **_NO_LEASE)
    _update(node, emit_node, state=State.SUCCEED, operator=Operator.PASS, end_time=now)


_NO_LEASE = {"lease_owner": "", "lease_expires_at": None}


def _save_dag(dag: Dag, expected_state: str, **fields: Any) -> None:
    """Guarded write of the DAG row: a concurrent change gives obshell's Gorm.NoRowAffected."""
    if Dag.objects.filter(pk=dag.pk, state=expected_state).update(**fields) != 1:
        raise server_error("Gorm.NoRowAffected", "failed to update dag operator: no row affected")
    for name, value in fields.items():
        setattr(dag, name, value)
    emit_dag(dag)


def _update(row: Model, emit_row: Callable[[Any], None], **fields: Any) -> None:
    """Set fields on a node or sub-task, save just those, and emit its new state."""
    for name, value in fields.items():
        setattr(row, name, value)
    row.save(update_fields=list(fields))
    emit_row(row)
