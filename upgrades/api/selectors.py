"""Reads behind the task routes, always scoped to the caller's cluster."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from upgrades.api.ids import parse_generic_id, task_not_found
from upgrades.models import Dag, Node, SubTask
from upgrades.models.dag import MaintenanceType

if TYPE_CHECKING:
    from upgrades.security.authenticate import ApiCaller


def visible_dags(caller: ApiCaller) -> QuerySet[Dag]:
    dags = Dag.objects.select_related("cluster")
    if caller.cluster is not None:
        dags = dags.filter(cluster=caller.cluster)
    return dags


def dag_by_generic_id(caller: ApiCaller, generic_id: str) -> Dag:
    row_id = parse_generic_id(generic_id, kind="dag")
    dag = visible_dags(caller).filter(pk=row_id).first()
    if dag is None:
        raise task_not_found()
    return dag


def node_by_generic_id(caller: ApiCaller, generic_id: str) -> Node:
    row_id = parse_generic_id(generic_id, kind="node")
    nodes = Node.objects.select_related("dag")
    if caller.cluster is not None:
        nodes = nodes.filter(dag__cluster=caller.cluster)
    node = nodes.filter(pk=row_id).first()
    if node is None:
        raise task_not_found()
    return node


def sub_task_by_generic_id(caller: ApiCaller, generic_id: str) -> SubTask:
    row_id = parse_generic_id(generic_id, kind="sub task")
    sub_tasks = SubTask.objects.all()
    if caller.cluster is not None:
        sub_tasks = sub_tasks.filter(dag__cluster=caller.cluster)
    sub_task = sub_tasks.filter(pk=row_id).first()
    if sub_task is None:
        raise task_not_found()
    return sub_task


def unfinished_dags(caller: ApiCaller) -> QuerySet[Dag]:
    return visible_dags(caller).filter(is_finished=False).order_by("id")


def last_maintenance_dag(caller: ApiCaller) -> Dag | None:
    """The newest DAG ever flagged as maintenance, finished or not (spec 3.2)."""
    return visible_dags(caller).filter(maintenance_type=MaintenanceType.GLOBAL).order_by("-id").first()
