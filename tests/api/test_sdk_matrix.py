"""The SDK matrix (README "SDK 0.0.9 matrix"): every obshell 0.0.9 method in scope (upgrades of OB and obshell,
packages, tasks and info) called against a spawned server, its result checked. The four upgrade_agent* methods
are driven in tests/api/test_sdk_agent_upgrade.py."""

import pytest
from obshell import info as sdk_info
from obshell.model.info import Agentidentity
from obshell.service.client_v1 import OBShellHandleError, TaskExecuteFailedError

from tests.api.signing import load_public_key
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.packages import write_rpms
from tests.support.waiting import wait_until_running
from upgrades.backends.faults import fault_inject
from upgrades.models import Dag, Package

TARGET_VERSION, TARGET_RELEASE = TARGET

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.usefixtures("fast_sdk_polling")]


@pytest.fixture
def uploaded(sdk, tmp_path):
    rpms = write_rpms(TARGET, tmp_path / "rpms")
    results = [sdk.upload_pkg(str(path)) for path in rpms]
    return rpms, results


def failed_upgrade(sdk, cluster, node_name):
    fault_inject(cluster=cluster, node_name=node_name)
    created = sdk.upgrade_ob(TARGET_VERSION, TARGET_RELEASE, "ROLLING")
    with pytest.raises(TaskExecuteFailedError) as failure:
        sdk.wait_dag_succeed(created.generic_id)
    return created, failure.value


def test_info_status_secret_and_ob_info(server, sdk, cluster):
    address = f"{server.host}:{server.port}"
    info = sdk_info.get_info(address)  # what the SDK negotiates auth with
    assert info.identity == Agentidentity.CLUSTER_AGENT and info.supported_auth and not info.security
    key = sdk_info.get_public_key(address)
    assert key.startswith("MIGJAoGBA") and load_public_key(key).key_size == 1024  # PKCS#1 DER, as obshell
    assert sdk.get_info().identity == "CLUSTER AGENT"
    status = sdk.get_status()
    assert status.agent.identity == "CLUSTER AGENT" and status.state == 2 and status.ob_state == 3
    ob = sdk.get_ob_info()
    assert ob.cluster.cluster_name == cluster.name and sorted(ob.cluster.zone_config) == ["zone1", "zone2", "zone3"]
    assert len(ob.agents) == 3


def test_upload_pkg_returns_none_and_stores_the_package(sdk, uploaded):
    rpms, results = uploaded
    assert results == [None, None]  # the SDK parses the answer and returns nothing
    assert set(Package.objects.values_list("name", flat=True)) == {"oceanbase-ce", "oceanbase-ce-libs"}


def test_upgrade_ob_check_and_its_sync_form(sdk, uploaded):
    started = sdk.upgrade_ob_check(TARGET_VERSION, TARGET_RELEASE)
    assert started.name == f"Upgrade check OB {TARGET_VERSION}-{TARGET_RELEASE}" and started.nodes == []
    assert sdk.wait_dag_succeed(started.generic_id).is_succeed()
    synced = sdk.upgrade_ob_check_sync(TARGET_VERSION, TARGET_RELEASE, upgrade_dir="/tmp/obshell-upgrade")
    assert synced.is_succeed() and len(synced.nodes) == 6


def test_upgrade_ob_sync_to_the_target(sdk, uploaded, cluster):
    done = sdk.upgrade_ob_sync(TARGET_VERSION, TARGET_RELEASE, "STOPSERVICE")
    assert done.is_succeed() and done.is_run() and done.max_stage == 18
    assert {s.build_version for s in cluster.servers.all()} == {TARGET.build_version.replace("-", "_")}


def test_upgrade_ob_then_the_task_reads(sdk, uploaded):
    created = sdk.upgrade_ob(TARGET_VERSION, TARGET_RELEASE, "ROLLING")
    assert created.nodes == [] and created.max_stage == 30 and created.generic_id.startswith("1")
    done = sdk.wait_dag_succeed(created.generic_id)
    assert done.is_succeed() and done.stage == 30

    brief = sdk.get_dag(created.generic_id, show_detail=False)
    assert brief.nodes == [] and brief.is_succeed()
    dag = sdk.get_dag(created.generic_id)
    assert len(dag.nodes) == 30
    node = sdk.get_node(dag.nodes[0].generic_id)
    assert node.name == "Check the python environment" and len(node.sub_tasks) == 3
    sub_task = sdk.get_sub_task(node.sub_tasks[0].generic_id)
    assert sub_task.is_succeed() and sub_task.task_logs and sub_task.execute_agent.endswith(":2886")

    # The list methods once nothing is left unfinished.
    assert sdk.get_unfinished_dags() == [] and sdk.get_cluster_unfinished_dag() == []
    assert sdk.get_agent_unfinished_dag() == [] and sdk.get_all_agent_last_maintenance_dag() == []
    # The SDK reads `contents` from this route's object (spec 7): [] against obshell too.
    assert sdk.get_ob_last_maintenance_dag() == []
    with pytest.raises(OBShellHandleError) as no_local:  # no agent-local DAGs here, as on a cluster agent
        sdk.get_agent_last_maintenance_dag()
    assert no_local.value.err_code == "Task.NotFound"


def test_unfinished_lists_and_operate_dag_retry(sdk, uploaded, cluster):
    created, failure = failed_upgrade(sdk, cluster, "Stop zone2")
    assert "Stop zone2" in {n.name for n in failure.dag.nodes if n.is_failed()}
    assert [d.generic_id for d in sdk.get_unfinished_dags()] == [created.generic_id]
    assert [d.generic_id for d in sdk.get_cluster_unfinished_dag()] == [created.generic_id]
    assert sdk.operate_dag(created.generic_id, "RETRY") is True
    assert sdk.wait_dag_succeed(created.generic_id).is_run()


def test_operate_dag_sync_rollback(sdk, uploaded, cluster):
    created, _ = failed_upgrade(sdk, cluster, "Unpack all required packages")
    assert sdk.operate_dag_sync(created.generic_id, "ROLLBACK") is True
    dag = sdk.get_dag(created.generic_id)
    assert dag.is_succeed() and dag.is_rollback()


def test_operate_dag_sync_retry(sdk, uploaded, cluster):
    created, _ = failed_upgrade(sdk, cluster, "Execute upgrade post script")
    assert sdk.operate_dag_sync(created.generic_id, "RETRY") is True
    assert sdk.get_dag(created.generic_id).is_succeed()


def test_operate_dag_sync_cancel(sdk, uploaded, cluster):
    fault_inject(cluster=cluster, node_name="Download all required packages", kind="hang")
    created = sdk.upgrade_ob(TARGET_VERSION, TARGET_RELEASE, "ROLLING")
    wait_until_running(created.dag_id, "Download all required packages")
    assert sdk.operate_dag_sync(created.generic_id, "CANCEL") is True
    dag = sdk.get_dag(created.generic_id)
    assert dag.is_failed() and dag.is_cancel()


def test_operate_dag_sync_pass_reaches_the_server_then_hits_the_sdk_bug(sdk, uploaded, cluster):
    created, _ = failed_upgrade(sdk, cluster, "Remove upgrade check task dir")
    # SDK 0.0.9 checks PASS with a DagDetailDTO.is_pass() it does not have (spec 7).
    with pytest.raises(AttributeError, match="is_pass"):
        sdk.operate_dag_sync(created.generic_id, "PASS")
    dag = Dag.objects.get(pk=created.dag_id)
    assert (dag.state, dag.operator) == ("SUCCEED", "PASS")
