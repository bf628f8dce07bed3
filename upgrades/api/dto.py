"""DAG, node and sub-task JSON exactly as obshell sends it (spec 6.2).

Details are read with a fixed number of queries whatever the DAG's size (nodes, sub-tasks and log lines are
each one query for any number of DAGs), and rows are read as tuples, not model instances: a 300-agent DAG
has about 9,000 sub-tasks and tens of thousands of log lines.
"""

from collections import defaultdict

from upgrades.api.gotime import ZERO_TIME, GoTimes, go_time
from upgrades.models import Node, SubTask, TaskLog
from upgrades.models.dag import State
from upgrades.operations import archive

_NO_LOGS_STATES = (State.PENDING, State.READY)
_SUB_TASK_FIELDS = (
    "id",
    "node_id",
    "name",
    "state",
    "operator",
    "start_time",
    "end_time",
    "execute_times",
    "agent_ip",
    "agent_port",
)
_NODE_FIELDS = ("id", "dag_id", "name", "state", "operator", "start_time", "end_time")


def _line(level, text):
    return text if level == TaskLog.Level.INFO else f"{level}: {text}"


def _logs_by_sub_task(log_filter):
    logs = defaultdict(list)
    rows = TaskLog.objects.filter(**log_filter).order_by("id").values_list("sub_task_id", "level", "text")
    for sub_task_id, level, text in rows:
        logs[sub_task_id].append(_line(level, text))
    return logs


def _add_archived_logs(logs, dag_id, sub_task_ids=None):
    """A pruned run's lines, from its archive (upgrades.operations.archive), into `logs`."""
    for log in archive.archived_logs(dag_id, sub_task_ids=sub_task_ids):
        logs[log.sub_task_id].append(log.line)


def _task_logs(state, lines):
    if state in _NO_LOGS_STATES:
        return None
    if state == State.FAILED and not lines:
        # The SDK reads the last line of every failed sub-task (spec 7): there is always one to read.
        return ["ERROR: [Common.Unexpected]: sub task failed"]
    return list(lines)


def _sub_task_dict(row, logs, times=go_time):
    (pk, _node_id, name, state, operator, start, end, execute_times, ip, port) = row
    return {
        "id": f"1{pk}",
        "task_id": pk,
        "name": name,
        "state": state,
        "operator": operator,
        "start_time": times(start),
        "end_time": times(end),
        "additional_data": None,
        "execute_times": execute_times,
        "execute_agent": {"ip": ip or "", "port": port or 0},
        "task_logs": _task_logs(state, logs.get(pk, ())),
    }


def _node_dict(row, sub_tasks, *, additional_data=None):
    pk, _dag_id, name, state, operator, start, end = row
    return {
        "id": f"1{pk}",
        "node_id": pk,
        "name": name,
        "state": state,
        "operator": operator,
        "start_time": go_time(start),
        "end_time": go_time(end),
        "additional_data": additional_data,
        "sub_tasks": sub_tasks,
    }


def _merged_additional_data(count):
    # obshell merges the members' data maps: one member's own map (always null for upgrade tasks), {} for more.
    return {} if count >= 2 else None


def _dag_dict(dag, nodes, *, created=False):
    return {
        "id": dag.generic_id,
        "dag_id": dag.pk,
        "name": dag.name,
        "stage": dag.stage,
        "max_stage": dag.max_stage,
        "maintenance_type": dag.maintenance_type,
        "maintenance_key": dag.maintenance_key,
        "state": dag.state,
        "operator": dag.operator,
        "start_time": ZERO_TIME if created else go_time(dag.start_time),
        "end_time": ZERO_TIME if created else go_time(dag.end_time),
        "additional_data": None if nodes is None else _merged_additional_data(len(nodes)),
        "nodes": nodes,
    }


def dag_details(dags, *, show_details):
    """DagDetailDTOs for several DAGs, in the given order, with 3 queries in all when details are shown."""
    dags = list(dags)
    if not show_details or not dags:
        return [_dag_dict(dag, None) for dag in dags]
    ids = [dag.pk for dag in dags]
    node_rows = Node.objects.filter(dag_id__in=ids).order_by("dag_id", "seq").values_list(*_NODE_FIELDS)
    sub_rows = SubTask.objects.filter(dag_id__in=ids).order_by("id").values_list(*_SUB_TASK_FIELDS)
    log_filter = {"sub_task__dag_id": ids[0]} if len(ids) == 1 else {"sub_task__dag_id__in": ids}
    logs = _logs_by_sub_task(log_filter)
    times = GoTimes()
    sub_rows = list(sub_rows)
    node_rows = list(node_rows)
    # Finished runs with no lines at all may have been pruned: read those from their archives.
    dag_of_node = {row[0]: row[1] for row in node_rows}
    with_lines = {dag_of_node[row[1]] for row in sub_rows if row[0] in logs}
    bare = [dag.pk for dag in dags if dag.is_finished and dag.pk not in with_lines]
    for dag_id in archive.archived_dag_ids(bare):
        _add_archived_logs(logs, dag_id)
    subs_by_node = defaultdict(list)
    for row in sub_rows:
        subs_by_node[row[1]].append(_sub_task_dict(row, logs, times))
    nodes_by_dag = defaultdict(list)
    for row in node_rows:
        nodes_by_dag[row[1]].append(_node_dict(row, subs_by_node.get(row[0], [])))
    return [_dag_dict(dag, nodes_by_dag.get(dag.pk, [])) for dag in dags]


def dag_detail(dag, *, show_details):
    return dag_details([dag], show_details=show_details)[0]


def dag_created(dag):
    """The create response: `nodes` null and zero times, not re-read from the database (spec 6.2)."""
    return _dag_dict(dag, None, created=True)


def node_detail(node):
    """GET /api/v1/task/node/:id: the node with its sub-tasks and its own merged additional_data."""
    row = (node.pk, node.dag_id, node.name, node.state, node.operator, node.start_time, node.end_time)
    sub_rows = SubTask.objects.filter(node_id=node.pk).order_by("id").values_list(*_SUB_TASK_FIELDS)
    logs = _logs_by_sub_task({"sub_task__node_id": node.pk})
    if not logs and archive.archived_dag_ids([node.dag_id]):
        _add_archived_logs(logs, node.dag_id, [row[0] for row in sub_rows])
    sub_tasks = [_sub_task_dict(sub_row, logs) for sub_row in sub_rows]
    return _node_dict(row, sub_tasks, additional_data=_merged_additional_data(len(sub_tasks)))


def sub_task_detail(sub_task):
    row = tuple(getattr(sub_task, f) for f in _SUB_TASK_FIELDS)
    logs = _logs_by_sub_task({"sub_task_id": sub_task.pk})
    if not logs and archive.archived_dag_ids([sub_task.dag_id]):
        _add_archived_logs(logs, sub_task.dag_id, [sub_task.pk])
    return _sub_task_dict(row, logs)


def sub_task_log_entries(sub_task):
    """GET /api/v1/task/sub_task/:id/logs: every line of every attempt."""
    rows = list(TaskLog.objects.filter(sub_task_id=sub_task.pk).order_by("id"))
    if not rows and archive.archived_dag_ids([sub_task.dag_id]):
        rows = list(archive.archived_logs(sub_task.dag_id, sub_task_ids=[sub_task.pk]))
    return [
        {
            "id": log.pk,
            "sub_task_id": sub_task.pk,
            "execute_times": log.execute_times,
            "log_content": log.line,
            "is_sync": True,
            "create_time": go_time(log.created_at),
            "update_time": go_time(log.created_at),
        }
        for log in rows
    ]
