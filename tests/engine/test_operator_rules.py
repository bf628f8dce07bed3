"""upgrades.operator_rules: the one answer to "may this operator run now, and if not, which error"."""

from types import SimpleNamespace

import pytest

from upgrades.live.actions import allowed_actions
from upgrades.operator_rules import (
    continue_rollback_refusal,
    node_pass_refusal,
    nodes_to_pass,
    operator_refusal,
    stages_retry_leaves_rolled_back,
)


def node(seq, state="SUCCEED", operator="RUN", **flags):
    can = {"can_retry": True, "can_rollback": True, "can_cancel": True, "can_pass": True, **flags}
    return SimpleNamespace(pk=seq, seq=seq, name=f"node {seq}", state=state, operator=operator, **can)


def dag(state="FAILED", stage=2, operator="RUN"):
    return SimpleNamespace(name="upgrade", state=state, stage=stage, operator=operator)


def test_every_operator_may_run_on_a_failed_dag_whose_nodes_allow_it():
    failed, nodes = dag(), [node(1), node(2, "FAILED"), node(3, "PENDING")]
    assert [operator_refusal(failed, op, nodes) for op in ("RETRY", "ROLLBACK", "PASS")] == [None, None, None]
    assert operator_refusal(failed, "CANCEL", nodes).err_code == "Task.Dag.Operator.CancelFinishedDag"
    assert node_pass_refusal(failed, nodes[1]) is None
    assert allowed_actions(failed, nodes) == {
        "retry": True,
        "rollback": True,
        "cancel": False,
        "pass": True,
        "continue_rollback": False,
        "pass_node": 2,
        "retry_leaves_rolled_back": [],
    }


@pytest.mark.parametrize(
    ("operator", "flag", "err_code"),
    [
        ("RETRY", "can_retry", "Task.Dag.Operator.RetryNotAllowed"),
        ("ROLLBACK", "can_rollback", "Task.Dag.Operator.RollbackNotAllowed"),
        ("PASS", "can_pass", "Task.Dag.Operator.PassNotAllowed"),
    ],
)
def test_a_node_flag_refuses_its_operator_by_name(operator, flag, err_code):
    nodes = [node(1), node(2, "FAILED", **{flag: False}), node(3, "PENDING")]
    error = operator_refusal(dag(), operator, nodes)
    assert (error.err_code, error.status) == (err_code, 400)
    assert "node 2" in error.message


def test_a_dag_without_a_node_at_its_stage_is_refused_as_unexpected():
    error = operator_refusal(dag(stage=4), "RETRY", [node(1), node(2, "FAILED")])
    assert (error.err_code, error.status) == ("Common.Unexpected", 500)


def test_node_pass_refusals_in_obshells_words():
    nodes = [node(1), node(2, "FAILED"), node(3, "PENDING", can_pass=False)]
    refusals = [
        node_pass_refusal(dag(state="RUNNING"), nodes[1]),
        node_pass_refusal(dag(), nodes[2]),
        node_pass_refusal(dag(stage=3), SimpleNamespace(**{**vars(nodes[2]), "state": "FAILED"})),
    ]
    assert [(e.err_code, e.status, e.message) for e in refusals] == [
        ("Task.Node.Operator.PassNotFailedDag", 400, "Failed to pass node: assigned DAG is not failed"),
        ("Task.Node.Operator.PassNotFailedNode", 400, "Failed to pass node: node node 3 is not failed"),
        ("Task.Node.Operator.PassNotAllowed", 400, "Failed to pass node: node node 3 cannot pass"),
    ]


def test_dag_pass_asks_every_unsucceeded_node_and_passes_from_the_last_failed_one():
    # obshell's getNodesCanPass: SUCCEED nodes are skipped whatever their flag, others are asked, before the failed
    # node too (here a PENDING node below a failed rollback).
    below = [node(1, "PENDING", can_pass=False, operator="ROLLBACK"), node(2, "FAILED"), node(3, can_pass=False)]
    error = operator_refusal(dag(operator="ROLLBACK"), "PASS", below)
    assert (error.err_code, error.message) == (
        "Task.Dag.Operator.PassNotAllowed",
        "Failed to pass DAG: node node 1 cannot pass",
    )
    above = [node(1, can_pass=False), node(2, "FAILED"), node(3, "SUCCEED", can_pass=False), node(4, "PENDING")]
    assert operator_refusal(dag(), "PASS", above) is None
    assert [n.seq for n in nodes_to_pass(above)] == [2, 3, 4]
    assert nodes_to_pass([node(1), node(2)]) == []


def test_continue_rollback_only_after_a_failed_rollback():
    nodes = [
        node(1, "PENDING", operator="ROLLBACK"),
        node(2, "FAILED", operator="ROLLBACK"),
        node(3, operator="ROLLBACK"),
    ]
    assert continue_rollback_refusal(dag(operator="ROLLBACK"), nodes) is None
    assert [n.seq for n in stages_retry_leaves_rolled_back(dag(operator="ROLLBACK"), nodes)] == [3]
    actions = allowed_actions(dag(operator="ROLLBACK"), nodes)
    assert (actions["rollback"], actions["continue_rollback"], actions["retry_leaves_rolled_back"]) == (
        False,
        True,
        [3],
    )
    error = continue_rollback_refusal(dag(), nodes)
    assert (error.err_code, error.status) == ("Task.Dag.Operator.ContinueRollbackNotRollingBack", 400)
    assert stages_retry_leaves_rolled_back(dag(), nodes) == []
