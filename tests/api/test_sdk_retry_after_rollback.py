"""The official SDK (obshell 0.0.9) against a spawned server: RETRY after a failed ROLLBACK runs the DAG forward,
as obshell does, so `operate_dag_sync(id, "RETRY")` returns once the DAG is SUCCEED with operator RUN."""

import pytest
from obshell.service.client_v1 import TaskExecuteFailedError

from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.packages import write_rpms
from upgrades.backends.faults import fault_inject
from upgrades.models import AuditEntry, Dag

TARGET_VERSION, TARGET_RELEASE = TARGET

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.usefixtures("fast_sdk_polling")]

UNPACK, DOWNLOAD = "Unpack all required packages", "Download all required packages"


@pytest.fixture
def failed_rollback(sdk, cluster, tmp_path):
    """An upgrade failed at Unpack, then its rollback failed at Download: (generic id, DAG as the SDK saw it)."""
    for path in write_rpms(TARGET, tmp_path):
        sdk.upload_pkg(str(path))
    fault_inject(cluster=cluster, node_name=UNPACK)
    fault_inject(cluster=cluster, node_name=DOWNLOAD, kind="fail_rollback")
    created = sdk.upgrade_ob(TARGET_VERSION, TARGET_RELEASE, "ROLLING")
    with pytest.raises(TaskExecuteFailedError):
        sdk.wait_dag_succeed(created.generic_id)
    # The SDK waits for SUCCEED+ROLLBACK; a failed rollback raises like any failed DAG.
    with pytest.raises(TaskExecuteFailedError) as failure:
        sdk.operate_dag_sync(created.generic_id, "ROLLBACK")
    dag = failure.value.dag
    assert (dag.state, dag.operator) == ("FAILED", "ROLLBACK")
    assert failure.value.message == f"Failed to ROLLBACK task {created.generic_id}"
    download = next(n for n in dag.nodes if n.name == DOWNLOAD)
    last_lines = [st.task_logs[-1] for st in download.sub_tasks if st.is_failed()]
    assert last_lines and all("rollback of Download all required packages failed" in line for line in last_lines)
    return created.generic_id, dag


def node_states(dag):
    return {n.name: (n.state, n.operator) for n in dag.nodes[:6]}


def test_retry_after_a_failed_rollback_returns_when_the_dag_succeeds(sdk, failed_rollback, cluster):
    generic_id, failed = failed_rollback
    assert node_states(failed)[DOWNLOAD] == ("FAILED", "ROLLBACK")
    assert node_states(failed)[UNPACK] == ("SUCCEED", "ROLLBACK")

    assert sdk.operate_dag_sync(generic_id, "RETRY") is True

    dag = sdk.get_dag(generic_id)
    assert dag.is_succeed() and dag.is_run() and dag.stage == dag.max_stage
    states = node_states(dag)
    # The node whose rollback failed ran again; the stages it had already rolled back were not re-applied.
    assert states[DOWNLOAD] == ("SUCCEED", "RETRY")
    assert states["Check all required packages"] == ("SUCCEED", "ROLLBACK")
    assert states[UNPACK] == ("SUCCEED", "ROLLBACK")
    assert states["Check the python environment"] == ("PENDING", "ROLLBACK")
    assert not Dag.objects.filter(cluster=cluster, holds_lock=True).exists()
    retry = AuditEntry.objects.filter(action="dag.operate", detail__operator="RETRY").get()
    assert retry.detail["leaves_rolled_back"] == [4, 5]


def test_rollback_again_after_a_failed_rollback_ends_rolled_back(sdk, failed_rollback):
    generic_id, _ = failed_rollback
    # What the page calls "Continue rollback" is obshell's ROLLBACK again; the SDK waits for SUCCEED+ROLLBACK.
    assert sdk.operate_dag_sync(generic_id, "ROLLBACK") is True
    dag = sdk.get_dag(generic_id)
    assert dag.is_succeed() and dag.is_rollback() and dag.stage == 1
    assert {(n.state, n.operator) for n in dag.nodes[:5]} == {("SUCCEED", "ROLLBACK")}
