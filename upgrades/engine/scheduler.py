"""Advancing DAGs (obshell's scheduler, spec 6.3): the node at `stage` makes its sub-tasks READY, is
SUCCEED when all of them succeed (stage +1, or -1 while rolling back) and FAILED as soon as all are
finished and any failed. Every decision is taken under the DAG row lock, so any number of workers may run
the scheduler at once."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, TypedDict

from django.db import transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from upgrades.backends.faults import faults_take
from upgrades.backends.simulated.verification import simulated_facts
from upgrades.dag_locks import lock_dag
from upgrades.engine.transitions import ACTIVE_DAG_STATES, FINISHED
from upgrades.events import emit_dag, emit_events, emit_node, sub_task_event
from upgrades.models import Dag, Node, SubTask
from upgrades.models.dag import Operator, State
from upgrades.operations.verification import target_build_of, verify

if TYPE_CHECKING:
    from django_stubs_ext import WithAnnotations


class _NodeProgress(TypedDict):
    unfinished: bool  # Exists(...): the node still has a sub-task that is not SUCCEED or FAILED
    failed: bool  # Exists(...): one of its sub-tasks is FAILED


def dag_advance(dag_id: int, *, skip_locked: bool = False) -> bool:
    """Move one DAG as far as it can go now. Returns True if anything changed."""
    with transaction.atomic():
        dag = lock_dag(dag_id, skip_locked=skip_locked)
        return advance_locked(dag)


def advance_locked(dag: Dag | None) -> bool:
    """dag_advance's body, for a caller that already holds the DAG row lock in its transaction."""
    if dag is None or dag.state not in ACTIVE_DAG_STATES or dag.remote_dag_id:
        return False
    changed = False
    if dag.state == State.READY:
        dag.state = State.RUNNING
        dag.start_time = timezone.now()
        dag.save(update_fields=["state", "start_time"])
        emit_dag(dag)
        changed = True
    # Each pass either waits (break) or makes progress; a DAG has at most max_stage nodes to pass.
    for _ in range(3 * dag.max_stage + 3):
        unfinished = SubTask.objects.filter(node=OuterRef("pk")).exclude(state__in=FINISHED)
        failed = SubTask.objects.filter(node=OuterRef("pk"), state=State.FAILED)
        node = (
            Node.objects.filter(dag=dag, seq=dag.stage)
            .annotate(unfinished=Exists(unfinished), failed=Exists(failed))
            .get()
        )
        if node.state == State.PENDING:
            changed = True
            if _start_node(dag, node):
                break  # it waits for the sub-tasks it just made READY: no need to read it again
            continue
        if not _advance_node(dag, node):
            break
        changed = True
        if dag.state in FINISHED:
            break
    return changed


def _advance_node(dag: Dag, node: WithAnnotations[Node, _NodeProgress]) -> bool:
    if node.state == State.RUNNING:
        if node.unfinished:
            return False
        if not node.failed:
            node.state = State.SUCCEED
            node.end_time = timezone.now()
            node.save(update_fields=["state", "end_time"])
            emit_node(node)
            _next_stage(dag)
            return True
        node.state = State.FAILED
        node.end_time = timezone.now()
        node.save(update_fields=["state", "end_time"])
        emit_node(node)
        dag_fail(dag)
        return True
    if node.state == State.SUCCEED:
        _next_stage(dag)
        return True
    # A FAILED node under a READY/RUNNING DAG: an operator left it inconsistent; fail the DAG on it.
    dag_fail(dag)
    return True


def _start_node(dag: Dag, node: Node) -> bool:
    """RUNNING, with its sub-tasks READY; True if it has any to run (False: all succeeded already)."""
    now = timezone.now()
    node.state = State.RUNNING
    node.start_time = now
    node.save(update_fields=["state", "start_time"])
    emit_node(node)
    # A retried node re-runs only what did not succeed (spec 6.4, RETRY); ROLLBACK resets every sub-task
    # of the nodes it undoes to PENDING, so the same rule runs all of them.
    to_run = SubTask.objects.filter(node=node).exclude(state=State.SUCCEED)
    ids = list(to_run.order_by("id").values_list("id", flat=True))
    # obshell's sub-tasks only ever run as RUN or ROLLBACK (task_handler.go setSubTaskRunReady/RollbackReady), also
    # under a node retried (RETRY) or cancelled (CANCEL).
    SubTask.objects.filter(pk__in=ids).update(
        state=State.READY,
        operator=Operator.ROLLBACK if node.operator == Operator.ROLLBACK else Operator.RUN,
        execute_times=F("execute_times") + 1,
        lease_owner="",
        lease_expires_at=None,
        deadline_at=None,
        context={},
    )
    sub_tasks = list(SubTask.objects.filter(pk__in=ids).order_by("id"))
    rolling_back = node.operator == Operator.ROLLBACK
    for sub_task, fault in faults_take(
        cluster_id=dag.cluster_id, node_name=node.name, sub_tasks=sub_tasks, rolling_back=rolling_back
    ):
        sub_task.context = {"fault": fault}
        sub_task.save(update_fields=["context"])
    emit_events(dag.pk, [sub_task_event(sub_task) for sub_task in sub_tasks])
    return bool(ids)


def _next_stage(dag: Dag) -> None:
    if dag.operator == Operator.ROLLBACK:
        if dag.stage <= 1:
            dag_succeed(dag)
            return
        dag.stage -= 1
    else:
        if dag.stage >= dag.max_stage:
            dag_succeed(dag)
            return
        dag.stage += 1
    dag.save(update_fields=["stage"])
    emit_dag(dag)


def dag_succeed(dag: Dag) -> None:
    """SUCCEED always releases the maintenance lock (spec 6.3). An upgrade keeps the verification of the cluster it
    leaves behind, read in the same transaction (its report then says what was true when it finished)."""
    dag.state = State.SUCCEED
    dag.end_time = timezone.now()
    dag.is_finished = True
    dag.holds_lock = False
    fields = ["state", "end_time", "is_finished", "holds_lock"]
    if dag.kind == Dag.Kind.UPGRADE:
        dag.verification = verify(simulated_facts(dag.cluster_id), target_build=target_build_of(dag), at=dag.end_time)
        fields.append("verification")
    dag.save(update_fields=fields)
    emit_dag(dag)


def dag_fail(dag: Dag) -> None:
    """A failed maintenance DAG keeps the lock and stays unfinished until retried, rolled back or passed."""
    dag.state = State.FAILED
    dag.end_time = timezone.now()
    dag.is_finished = not dag.holds_lock
    dag.save(update_fields=["state", "end_time", "is_finished"])
    emit_dag(dag)


def active_dag_ids(dag_ids: Collection[int] | None = None) -> list[int]:
    qs = Dag.objects.filter(state__in=ACTIVE_DAG_STATES, remote_dag_id="")  # mirrored DAGs run on their agent
    if dag_ids is not None:
        qs = qs.filter(pk__in=dag_ids)
    return list(qs.order_by("id").values_list("id", flat=True))


def advance_active_dags(dag_ids: Collection[int] | None = None) -> bool:
    changed = False
    for dag_id in active_dag_ids(dag_ids):
        changed = dag_advance(dag_id, skip_locked=True) or changed
    return changed
