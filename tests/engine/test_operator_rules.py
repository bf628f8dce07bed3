"""upgrades.operator_rules: the one answer to "may this operator run now, and if not, which error"."""

from types import SimpleNamespace

import pytest

from upgrades.live.actions import allowed_actions
from upgrades.operator_rules import node_pass_refusal, operator_refusal


def node(seq, state="SUCCEED", **flags):
    can = {"can_retry": True, "can_rollback": True, "can_cancel": True, "can_pass": True, **flags}
    return SimpleNamespace(pk=seq, seq=seq, name=f"node {seq}", state=state, **can)


def dag(state="FAILED", stage=2):
    return SimpleNamespace(name="upgrade", state=state, stage=stage)


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
        "pass_node": 2,
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
    for operator in ("RETRY", "PASS"):
        error = operator_refusal(dag(stage=4), operator, [node(1), node(2, "FAILED")])
        assert (error.err_code, error.status) == ("Common.Unexpected", 500)
