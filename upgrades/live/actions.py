"""Which operator buttons a run page may show: exactly the operators upgrades.operator_rules allows now."""

from upgrades.operator_rules import (
    continue_rollback_refusal,
    node_pass_refusal,
    operator_refusal,
    rollback_failed,
    stages_retry_leaves_rolled_back,
)


def allowed_actions(dag, nodes=None):
    """{"retry", "rollback", "cancel", "pass", "continue_rollback": bool, "pass_node": id of the node that may be
    passed or None, "retry_leaves_rolled_back": seqs of the stages a RETRY would leave rolled back}.

    Only the current node is offered for a node PASS. After a failed rollback, ROLLBACK is offered as "Continue
    rollback" instead of "Rollback", and the RETRY dialog warns about the stages it leaves rolled back.
    """
    nodes = sorted(nodes if nodes is not None else dag.nodes.all(), key=lambda n: n.seq)
    current = next((n for n in nodes if n.seq == dag.stage), None)
    return {
        "retry": operator_refusal(dag, "RETRY", nodes) is None,
        "rollback": not rollback_failed(dag) and operator_refusal(dag, "ROLLBACK", nodes) is None,
        "continue_rollback": continue_rollback_refusal(dag, nodes) is None,
        "cancel": operator_refusal(dag, "CANCEL", nodes) is None,
        "pass": operator_refusal(dag, "PASS", nodes) is None,
        "pass_node": current.pk if current is not None and node_pass_refusal(dag, current) is None else None,
        "retry_leaves_rolled_back": [node.seq for node in stages_retry_leaves_rolled_back(dag, nodes)],
    }
