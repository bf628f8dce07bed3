"""Which operator buttons a run page may show: obshell's preconditions (spec 6.4) over the node flags.

The services enforce these same rules when the action is taken; this only decides what to offer.
"""

from upgrades.models.dag import State


def allowed_actions(dag, nodes=None):
    """{"retry", "rollback", "cancel", "pass": bool, "pass_node": id of the node that may be passed or None}.

    Mirrors upgrades.services.dags: RETRY needs a FAILED DAG whose current node can retry; ROLLBACK that every
    node up to the current one can roll back and one of them failed; CANCEL an unfinished DAG whose nodes up
    to the current one can cancel; PASS that the current node and every later one can pass; a node PASS a
    FAILED DAG whose current node FAILED and can pass.
    """
    nodes = sorted(nodes if nodes is not None else dag.nodes.all(), key=lambda n: n.seq)
    failed = dag.state == State.FAILED
    current = next((n for n in nodes if n.seq == dag.stage), None)
    upto_current = [n for n in nodes if n.seq <= dag.stage]
    from_current = [n for n in nodes if n.seq >= dag.stage]
    return {
        "retry": failed and current is not None and current.can_retry,
        "rollback": (
            failed
            and bool(upto_current)
            and all(n.can_rollback for n in upto_current)
            and any(n.state == State.FAILED for n in upto_current)
        ),
        "cancel": dag.state in (State.PENDING, State.READY, State.RUNNING) and all(n.can_cancel for n in upto_current),
        "pass": failed and bool(from_current) and all(n.can_pass for n in from_current),
        "pass_node": (
            current.pk if failed and current is not None and current.state == State.FAILED and current.can_pass else None
        ),
    }
