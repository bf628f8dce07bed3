"""Which operator buttons a run page may show: exactly the operators upgrades.operator_rules allows now."""

from upgrades.operator_rules import node_pass_refusal, operator_refusal


def allowed_actions(dag, nodes=None):
    """{"retry", "rollback", "cancel", "pass": bool, "pass_node": id of the node that may be passed or None}.

    Only the current node is offered for a node PASS.
    """
    nodes = sorted(nodes if nodes is not None else dag.nodes.all(), key=lambda n: n.seq)
    current = next((n for n in nodes if n.seq == dag.stage), None)
    return {
        "retry": operator_refusal(dag, "RETRY", nodes) is None,
        "rollback": operator_refusal(dag, "ROLLBACK", nodes) is None,
        "cancel": operator_refusal(dag, "CANCEL", nodes) is None,
        "pass": operator_refusal(dag, "PASS", nodes) is None,
        "pass_node": current.pk if current is not None and node_pass_refusal(dag, current) is None else None,
    }
