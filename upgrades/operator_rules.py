"""obshell's operator preconditions (spec 6.4): may RETRY, ROLLBACK, CANCEL or PASS run on a DAG now, or PASS
on one of its nodes, and if not, which error refuses it.

The operator services enforce these rules when an operator is applied, and the run page offers exactly the
operators they allow. Each function returns the refusing ObshellError, or None when the operator may run.
"""

from upgrades.errors import bad_request, server_error
from upgrades.models.dag import Operator, State

UNFINISHED = (State.PENDING, State.READY, State.RUNNING)


def operator_refusal(dag, operator, nodes):
    """Why `operator` (RETRY, ROLLBACK, CANCEL or PASS) may not run on `dag` now, or None; `nodes` are all the
    DAG's nodes."""
    nodes = sorted(nodes, key=lambda node: node.seq)
    return _RULES[operator](dag, nodes)


def node_pass_refusal(dag, node):
    """Why `node` of `dag` may not be passed now, or None (obshell ob/agent/service/task/node.go PassNode; the texts
    are its catalog's, ob/agent/assets/i18n/error/en.json)."""
    if dag.state != State.FAILED:
        return bad_request("Task.Node.Operator.PassNotFailedDag", "Failed to pass node: assigned DAG is not failed")
    if node.state != State.FAILED:
        return bad_request(
            "Task.Node.Operator.PassNotFailedNode", f"Failed to pass node: node {node.name} is not failed"
        )
    if not node.can_pass:
        return bad_request("Task.Node.Operator.PassNotAllowed", f"Failed to pass node: node {node.name} cannot pass")
    return None


def _retry(dag, nodes):
    if dag.state != State.FAILED:
        return bad_request("Task.Dag.Operator.RetryNotFailedDag", "Failed to set DAG retry: DAG state is not failed")
    current = _current(dag, nodes)
    if current is None:
        return _no_current_node(dag)
    if not current.can_retry:
        return bad_request(
            "Task.Dag.Operator.RetryNotAllowed", f"Failed to set DAG retry: node {current.name} cannot retry"
        )
    return None


def _rollback(dag, nodes):
    if dag.state != State.FAILED:
        return bad_request(
            "Task.Dag.Operator.RollbackNotFailedDag", "Failed to set DAG rollback: DAG state is not failed"
        )
    up_to_current = _up_to_current(dag, nodes)
    for node in up_to_current:
        if not node.can_rollback:
            return bad_request(
                "Task.Dag.Operator.RollbackNotAllowed", f"Failed to set DAG rollback: node {node.name} cannot rollback"
            )
    if not any(node.state == State.FAILED for node in up_to_current):
        return server_error("Common.Unexpected", "Unexpected error: failed to set dag rollback: no node failed")
    return None


def _cancel(dag, nodes):
    if dag.state not in UNFINISHED:
        return bad_request("Task.Dag.Operator.CancelFinishedDag", "Failed to cancel DAG: DAG is finished")
    for node in _up_to_current(dag, nodes):
        if not node.can_cancel:
            return bad_request(
                "Task.Dag.Operator.CancelNotAllowed", f"Failed to cancel DAG: node {node.name} cannot cancel"
            )
    return None


def _pass(dag, nodes):
    if dag.state != State.FAILED:
        return bad_request("Task.Dag.Operator.PassNotFailedDag", "Failed to pass DAG: DAG is not failed")
    # obshell (ob/agent/service/task/dag.go getNodesCanPass) skips the SUCCEED nodes and asks every other one, before
    # the failed node too (the PENDING/ROLLBACK ones below a failed rollback), whether it can pass.
    for node in nodes:
        if node.state == State.SUCCEED:
            continue
        if not node.can_pass:
            return bad_request("Task.Dag.Operator.PassNotAllowed", f"Failed to pass DAG: node {node.name} cannot pass")
    return None


def rollback_failed(dag):
    """The DAG failed while rolling back (FAILED with operator ROLLBACK)."""
    return dag.state == State.FAILED and dag.operator == Operator.ROLLBACK


def continue_rollback_refusal(dag, nodes):
    """Why "Continue rollback" (ROLLBACK again on a rollback that failed) may not run now, or None.

    Not an obshell operator: it is the page's and the `operate` command's name for ROLLBACK on a DAG whose rollback
    failed, which obshell's ROLLBACK also accepts (ob/agent/service/task/dag.go getNodesCanRollback walks the
    PENDING/ROLLBACK nodes below the failed one and stops at it), audited as its own action.
    """
    if not rollback_failed(dag):
        return bad_request(
            "Task.Dag.Operator.ContinueRollbackNotRollingBack",
            "Failed to continue rollback: DAG did not fail while rolling back",
        )
    return operator_refusal(dag, "ROLLBACK", nodes)


def stages_retry_leaves_rolled_back(dag, nodes):
    """The nodes a RETRY would leave undone: after a failed rollback obshell's RETRY runs the DAG forward
    (operator RUN) from the node whose rollback failed, and its scheduler treats every later node it already
    rolled back (SUCCEED with operator ROLLBACK) as done (ob/agent/engine/scheduler/dag_handler.go advanceDag,
    node_handler.go advanceNode), so the DAG can end SUCCEED with those stages rolled back."""
    if not rollback_failed(dag):
        return []
    return [
        node
        for node in sorted(nodes, key=lambda n: n.seq)
        if node.seq > dag.stage and node.state == State.SUCCEED and node.operator == Operator.ROLLBACK
    ]


_RULES = {"RETRY": _retry, "ROLLBACK": _rollback, "CANCEL": _cancel, "PASS": _pass}


def nodes_to_pass(nodes):
    """The nodes a DAG PASS marks passed: from the last FAILED node on (obshell's getNodesCanPass), none if no node
    failed."""
    nodes = sorted(nodes, key=lambda node: node.seq)
    start = len(nodes)
    for index, node in enumerate(nodes):
        if node.state == State.FAILED:
            start = index
    return nodes[start:]


def _current(dag, nodes):
    return next((node for node in nodes if node.seq == dag.stage), None)


def _up_to_current(dag, nodes):
    return [node for node in nodes if node.seq <= dag.stage]


def _no_current_node(dag):
    # Only a damaged DAG has no node at its stage; the services never make one.
    return server_error("Common.Unexpected", f"Unexpected error: DAG {dag.name} has no node at stage {dag.stage}")
