"""The live (websocket) shape of DAGs, nodes, sub-tasks and log lines. Events carry these dicts, and the
snapshot a socket receives on connect is made of the same ones, so a client applies both the same way."""


def iso_time(value):
    """A datetime as ISO 8601 text; None when there is none."""
    return value.isoformat() if value else None


def dag_payload(dag):
    return {
        "id": dag.pk,
        "generic_id": dag.generic_id,
        "cluster": dag.cluster.name,
        "kind": dag.kind,
        "name": dag.name,
        "state": dag.state,
        "operator": dag.operator,
        "stage": dag.stage,
        "max_stage": dag.max_stage,
        "is_finished": dag.is_finished,
        "holds_lock": dag.holds_lock,
        "mode": dag.mode,
        "from_version": dag.from_version,
        "to_version": dag.to_version,
        "route": dag.route,
        "actor": dag.actor_label,
        "reason": dag.reason,
        "created_at": iso_time(dag.created_at),
        "start_time": iso_time(dag.start_time),
        "end_time": iso_time(dag.end_time),
        # A mirrored run (real cluster): the agent's DAG id and our contact with the agent.
        "remote_dag_id": dag.remote_dag_id,
        "started_outside": dag.started_outside,
        "contact": dag.mirror_contact,
    }


def node_payload(node):
    return {
        "id": node.pk,
        "generic_id": node.generic_id,
        "dag_id": node.dag_id,
        "seq": node.seq,
        "name": node.name,
        "parallel": node.parallel,
        "hop": node.hop,
        "zone": node.zone_name,
        "state": node.state,
        "operator": node.operator,
        "start_time": iso_time(node.start_time),
        "end_time": iso_time(node.end_time),
        "can_retry": node.can_retry,
        "can_rollback": node.can_rollback,
        "can_pass": node.can_pass,
        "can_cancel": node.can_cancel,
    }


def sub_task_payload(sub_task):
    return {
        "id": sub_task.pk,
        "generic_id": sub_task.generic_id,
        "node_id": sub_task.node_id,
        "dag_id": sub_task.dag_id,
        "name": sub_task.name,
        "agent": f"{sub_task.agent_ip}:{sub_task.agent_port}",
        "state": sub_task.state,
        "operator": sub_task.operator,
        "execute_times": sub_task.execute_times,
        "start_time": iso_time(sub_task.start_time),
        "end_time": iso_time(sub_task.end_time),
    }


def log_payload(log):
    return {
        "id": log.pk,
        "sub_task_id": log.sub_task_id,
        "execute_times": log.execute_times,
        "phase": log.phase,
        "level": log.level,
        "line": log.line,
        "at": iso_time(log.created_at),
    }
