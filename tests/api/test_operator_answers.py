"""CANCEL and node PASS through the API, field by field as obshell answers them (ob/agent/executor/task/dag.go,
node.go; ob/agent/service/task/dag.go, node.go; the scheduler in ob/agent/engine/scheduler/; the texts of
ob/agent/assets/i18n/error/en.json): the reply, the refusals in their order, and the rows' states, operators and
times after the operator."""

import pytest

from tests.api.test_task_routes import data_of, error_of
from tests.engine.helpers import step_until
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.packages import ingest_rpms
from upgrades.api.gotime import go_time
from upgrades.audit import Actor
from upgrades.backends.faults import fault_inject
from upgrades.engine.runner import run_dag_to_end
from upgrades.engine.transitions import subtask_claim
from upgrades.models.dag import EPOCH
from upgrades.services.dag_start import upgrade_check_start

TARGET_VERSION, TARGET_RELEASE = TARGET

pytestmark = pytest.mark.django_db


@pytest.fixture
def packages(tmp_path, cluster):
    return ingest_rpms(TARGET, tmp_path / "rpms")


def detail(api, dag):
    return data_of(api.get(f"/api/v1/task/dag/{dag.generic_id}"))


def test_cancel_a_running_stage(api, cluster, packages):
    dag = start_upgrade(cluster, TARGET)
    dag = step_until(dag, lambda d: d.stage == 3)
    # A worker claims one of the stage's sub-tasks (RUNNING under its lease); the others wait READY or PENDING.
    [claimed] = subtask_claim(owner="test-worker", dag_ids=[dag.pk])
    assert claimed.node.seq == 3
    before = detail(api, dag)
    download = before["nodes"][2]
    running = {st["id"]: st for st in download["sub_tasks"] if st["state"] == "RUNNING"}
    assert running

    response = api.post(f"/api/v1/task/dag/{dag.generic_id}", {"operator": "cancel"})
    # DagHandler answers SendResponse(c, nil, nil): no data key at all.
    assert response.status_code == 200 and response.json()["successful"] is True
    assert "data" not in response.json() and "error" not in response.json()

    after = detail(api, dag)
    # The DAG restarts and fails at once in obshell's next scheduler tick: start and end are that moment.
    assert (after["state"], after["operator"], after["stage"]) == ("FAILED", "CANCEL", 3)
    assert after["start_time"] == after["end_time"] != before["start_time"]
    node = after["nodes"][2]
    assert (node["state"], node["operator"]) == ("FAILED", "CANCEL")
    assert node["start_time"] == node["end_time"] == after["end_time"]
    for sub_task in node["sub_tasks"]:
        if sub_task["id"] in running:
            # SetSubTaskFailed: state and end time only; the operator stays; the engine's line ends the log.
            assert (sub_task["state"], sub_task["operator"]) == ("FAILED", "RUN")
            assert sub_task["start_time"] == running[sub_task["id"]]["start_time"]
            assert sub_task["end_time"] == after["end_time"]
            assert sub_task["task_logs"][-1] == "sub task cancelled"
        else:
            assert sub_task["state"] in ("SUCCEED", "PENDING", "FAILED")
            if sub_task["state"] == "FAILED":  # READY when cancelled
                assert sub_task["task_logs"][-1] == "sub task cancelled"
    assert [n["state"] for n in after["nodes"][3:]] == ["PENDING"] * (len(after["nodes"]) - 3)

    again = api.post(f"/api/v1/task/dag/{dag.generic_id}", {"operator": "CANCEL"})
    assert again.status_code == 400
    assert (error_of(again)["errCode"], error_of(again)["message"]) == (
        "Task.Dag.Operator.CancelFinishedDag",
        "Failed to cancel DAG: DAG is finished",
    )


def test_cancel_past_the_last_cancellable_stage(api, cluster, packages):
    dag = step_until(start_upgrade(cluster, TARGET), lambda d: d.stage == 11)
    refused = api.post(f"/api/v1/task/dag/{dag.generic_id}", {"operator": "CANCEL"})
    assert refused.status_code == 400
    assert (error_of(refused)["errCode"], error_of(refused)["message"]) == (
        "Task.Dag.Operator.CancelNotAllowed",
        "Failed to cancel DAG: node Execute upgrade checker script cannot cancel",
    )


def failed_check(cluster):
    fault_inject(cluster=cluster, node_name="Create upgrade dir")
    dag = upgrade_check_start(
        cluster=cluster, version=TARGET_VERSION, release=TARGET_RELEASE, actor=Actor.system("test")
    )
    dag = run_dag_to_end(dag.pk)
    assert dag.state == "FAILED"
    return dag


def test_pass_a_failed_node(api, cluster, packages):
    dag = failed_check(cluster)
    before = detail(api, dag)
    failed = next(n for n in before["nodes"] if n["state"] == "FAILED")
    later = next(n for n in before["nodes"] if n["state"] == "PENDING")

    # Refusals in obshell's words: a node that did not fail, and a DAG that is not failed.
    not_failed = api.post(f"/api/v1/task/node/{later['id']}", {"operator": "PASS"})
    assert not_failed.status_code == 400
    assert (error_of(not_failed)["errCode"], error_of(not_failed)["message"]) == (
        "Task.Node.Operator.PassNotFailedNode",
        f"Failed to pass node: node {later['name']} is not failed",
    )

    response = api.post(f"/api/v1/task/node/{failed['id']}", {"operator": "pass"})
    assert response.status_code == 200 and "data" not in response.json()

    after = detail(api, dag)
    # PassNode: the node SUCCEED/PASS with its start kept and the end now; its unfinished sub-tasks likewise;
    # the DAG READY/RUN with both times the zero time (unix epoch) until the scheduler restarts it.
    assert (after["state"], after["operator"]) == ("READY", "RUN")
    assert after["start_time"] == after["end_time"] == go_time(EPOCH)
    node = next(n for n in after["nodes"] if n["id"] == failed["id"])
    assert (node["state"], node["operator"], node["start_time"]) == ("SUCCEED", "PASS", failed["start_time"])
    assert node["end_time"] > failed["end_time"]
    for sub_task, was in zip(node["sub_tasks"], failed["sub_tasks"], strict=True):
        if was["state"] == "FAILED":
            assert (sub_task["state"], sub_task["operator"], sub_task["end_time"]) == (
                "SUCCEED",
                "PASS",
                node["end_time"],
            )
            assert sub_task["start_time"] == was["start_time"]
        else:
            assert sub_task == was

    not_failed_dag = api.post(f"/api/v1/task/node/{failed['id']}", {"operator": "PASS"})
    assert (error_of(not_failed_dag)["errCode"], error_of(not_failed_dag)["message"]) == (
        "Task.Node.Operator.PassNotFailedDag",
        "Failed to pass node: assigned DAG is not failed",
    )
    assert run_dag_to_end(dag.pk).state == "SUCCEED"


def test_pass_a_failed_dag_keeps_its_start_time(api, cluster, packages):
    dag = failed_check(cluster)
    before = detail(api, dag)
    response = api.post(f"/api/v1/task/dag/{dag.generic_id}", {"operator": "PASS"})
    assert response.status_code == 200 and "data" not in response.json()
    after = detail(api, dag)
    assert (after["state"], after["operator"], after["start_time"]) == ("SUCCEED", "PASS", before["start_time"])
    assert after["end_time"] > before["end_time"]
    passed = [n for n in after["nodes"] if n["operator"] == "PASS"]
    assert passed[0]["name"] == "Create upgrade dir"
    assert all(n["state"] == "SUCCEED" and n["end_time"] == after["end_time"] for n in passed)
    assert [n["operator"] for n in after["nodes"]] == ["RUN"] * (len(after["nodes"]) - len(passed)) + ["PASS"] * len(
        passed
    )


def test_refusals_come_in_obshells_order(api, cluster, packages):
    dag = start_upgrade(cluster, TARGET)
    # An unknown node with an operator other than PASS: NodeHandler refuses the operator before looking it up.
    response = api.post("/api/v1/task/node/199999", {"operator": "RETRY"})
    assert (response.status_code, error_of(response)["errCode"]) == (400, "Task.Node.Operator.NotSupport")
    assert error_of(response)["message"] == "Operator RETRY is not supported"
    response = api.post("/api/v1/task/node/199999", {"operator": "PASS"})
    assert (response.status_code, error_of(response)["errCode"]) == (404, "Task.NotFound")
    # An unknown DAG with an unreadable body: the body is bound first.
    response = api.post("/api/v1/task/dag/199999", b"not json")
    assert (response.status_code, error_of(response)["errCode"]) == (400, "Common.BindJsonFailed")
    response = api.post("/api/v1/task/dag/199999", {"operator": "CANCEL"})
    assert (response.status_code, error_of(response)["errCode"]) == (404, "Task.NotFound")
    # A malformed id is refused before anything else.
    response = api.post("/api/v1/task/dag/1x", b"not json")
    assert (response.status_code, error_of(response)["errCode"]) == (400, "Task.GenericID.Invalid")
    assert dag.state == "READY"
