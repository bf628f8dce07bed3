"""Which operator buttons a run page may show: obshell's preconditions (spec 6.4) over the node flags.

The services enforce these same rules when the action is taken; this only decides what to offer.
"""

from upgrades.models.dag import State


def allowed_actions(dag, nodes=None):
    """{"retry", "rollback", "cancel", "pass": bool, "pass_node": id of the node that may be passed or None}."""
    nodes = sorted(nodes if nodes is not None else dag.nodes.all(), key=lambda n: n.seq)
    failed = dag.state == State.FAILED
    current = next((n for n in nodes if n.seq == dag.stage), None)
    upto_current = [n for n in nodes if n.seq <= dag.stage]
    from_current = [n for n in nodes if n.seq >= dag.stage]
    first_unfinished = next((n for n in nodes if n.state != State.SUCCEED), None)
    until_unfinished = [n for n in nodes if first_unfinished is None or n.seq <= first_unfinished.seq]
    return {
        "retry": failed and current is not None and current.can_retry,
        "rollback": failed and bool(upto_current) and all(n.can_rollback for n in upto_current),
        "cancel": (
            not dag.is_finished
            and dag.state in (State.READY, State.RUNNING, State.PENDING)
            and all(n.can_cancel for n in until_unfinished)
        ),
        "pass": failed and bool(from_current) and all(n.can_pass for n in from_current),
        "pass_node": (
            current.pk if failed and current is not None and current.state == State.FAILED and current.can_pass else None
        ),
    }
