"""The official SDK (obshell 0.0.9) against a real server: uploads, checks, upgrades to SUCCEED, failures,
operators and every refusal, end to end over HTTP with v2 auth."""

import pytest
from obshell.service.client_v1 import OBShellHandleError, TaskExecuteFailedError

from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.packages import write_rpms
from tests.support.paths import shipped_dep_yaml
from tests.support.waiting import wait_until_running
from upgrades.backends.faults import fault_inject
from upgrades.demo.rpms import oceanbase_package_files
from upgrades.models import Dag, Package
from upgrades.packages.rpmwriter import write_rpm

TARGET_VERSION, TARGET_RELEASE = TARGET
TARGET_BUILD = TARGET.build_version

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.usefixtures("fast_sdk_polling")]

BIG = 11 * 1024 * 1024


@pytest.fixture(scope="module")
def big_rpms(tmp_path_factory):
    """The target's two rpms; oceanbase-ce is over 10 MB (its observer binary does not compress)."""
    directory = tmp_path_factory.mktemp("rpms")
    files = oceanbase_package_files(
        "oceanbase-ce", version=TARGET_VERSION, release=TARGET_RELEASE, dep_yaml=shipped_dep_yaml()
    )
    files["/home/admin/oceanbase/bin/observer"] = __import__("os").urandom(BIG)
    ce = write_rpm(
        directory / f"oceanbase-ce-{TARGET_VERSION}-{TARGET_RELEASE}.x86_64.rpm",
        name="oceanbase-ce",
        version=TARGET_VERSION,
        release=TARGET_RELEASE,
        files=files,
        compression="gzip",
    )
    libs = write_rpms(TARGET, directory / "libs")[1]
    return [ce, libs]


@pytest.fixture
def uploaded(sdk, big_rpms):
    for path in big_rpms:
        assert sdk.upload_pkg(str(path)) is None
    return big_rpms


def test_upload_check_upgrade_to_succeed(sdk, uploaded, cluster):
    assert big_rpms_size(uploaded) > 10 * 1024 * 1024
    stored = Package.objects.get(name="oceanbase-ce")
    assert stored.size == uploaded[0].stat().st_size
    assert {p["name"] for p in [{"name": n} for n in Package.objects.values_list("name", flat=True)]} == {
        "oceanbase-ce",
        "oceanbase-ce-libs",
    }

    check = sdk.upgrade_ob_check_sync(TARGET_VERSION, TARGET_RELEASE)
    assert check.is_succeed() and check.name == f"Upgrade check OB {TARGET_VERSION}-{TARGET_RELEASE}"
    assert len(check.nodes) == 6

    created = sdk.upgrade_ob(TARGET_VERSION, TARGET_RELEASE, "ROLLING")
    assert created.nodes == [] and created.max_stage == 30
    done = sdk.wait_dag_succeed(created.generic_id)
    assert done.is_succeed() and done.is_run() and done.stage == 30

    dag = sdk.get_dag(created.generic_id)
    assert [n.name for n in dag.nodes][:3] == [
        "Check the python environment",
        "Create upgrade dir",
        "Download all required packages",
    ]
    assert all(st.execute_agent.endswith(":2886") for n in dag.nodes for st in n.sub_tasks)
    assert all(st.task_logs is not None for n in dag.nodes for st in n.sub_tasks)
    node = sdk.get_node(dag.nodes[0].generic_id)
    assert len(node.sub_tasks) == 3
    assert sdk.get_sub_task(node.sub_tasks[0].generic_id).task_logs

    info = sdk.get_ob_info()
    builds = [s.build_version for servers in info.cluster.zone_config.values() for s in servers]
    assert len(builds) == 3 and all(b.startswith(TARGET_BUILD + "-") for b in builds)
    assert info.cluster.version == TARGET_VERSION
    assert sdk.get_cluster_unfinished_dag() == [] and sdk.get_unfinished_dags() == []
    assert sdk.get_status().agent.identity == "CLUSTER AGENT"


def big_rpms_size(paths):
    return paths[0].stat().st_size


def test_failure_surfaces_then_retry_succeeds(sdk, uploaded, cluster):
    agent = cluster.agent_server()  # serial nodes run on the cluster agent
    fault_inject(cluster=cluster, node_name="Stop zone1")
    created = sdk.upgrade_ob(TARGET_VERSION, TARGET_RELEASE, "ROLLING")
    with pytest.raises(TaskExecuteFailedError) as failure:
        sdk.wait_dag_succeed(created.generic_id)
    message = failure.value.message
    assert message.startswith(f"{agent.ip}:{agent.agent_port} ")
    failed = failure.value.dag
    node = next(n for n in failed.nodes if n.is_failed())
    assert node.name == "Stop zone1"
    last_line = next(st for st in node.sub_tasks if st.is_failed()).task_logs[-1]
    assert last_line in message and last_line.startswith("ERROR")

    # The SDK's list methods see the failed (unfinished) DAG; agent-local lists are empty here.
    assert [d.generic_id for d in sdk.get_unfinished_dags()] == [created.generic_id]
    assert [d.generic_id for d in sdk.get_cluster_unfinished_dag()] == [created.generic_id]
    assert sdk.get_agent_unfinished_dag() == [] and sdk.get_all_agent_last_maintenance_dag() == []
    assert sdk.get_ob_last_maintenance_dag() == []  # the SDK reads `contents` from an object (spec 7)
    with pytest.raises(OBShellHandleError) as no_local:
        sdk.get_agent_last_maintenance_dag()
    assert no_local.value.err_code == "Task.NotFound"
    assert sdk.get_info().identity == "CLUSTER AGENT"
    assert sdk.get_status().ob_state in (1, 3)

    # A failed upgrade keeps the lock: a new one is refused until this one is dealt with.
    with pytest.raises(OBShellHandleError) as refused:
        sdk.upgrade_ob(TARGET_VERSION, TARGET_RELEASE, "STOPSERVICE")
    assert refused.value.err_code == "OB.Cluster.UnderMaintenanceWithDag"

    assert sdk.operate_dag_sync(created.generic_id, "RETRY") is True
    dag = sdk.get_dag(created.generic_id)
    assert dag.is_succeed() and dag.is_run()
    retried = next(n for n in dag.nodes if n.name == "Stop zone1")
    assert max(st.execute_times for st in retried.sub_tasks) == 2


def test_rollback_ends_in_succeed_rollback(sdk, uploaded, cluster):
    fault_inject(cluster=cluster, node_name="Unpack all required packages")
    created = sdk.upgrade_ob(TARGET_VERSION, TARGET_RELEASE, "ROLLING")
    with pytest.raises(TaskExecuteFailedError):
        sdk.wait_dag_succeed(created.generic_id)
    with pytest.raises(OBShellHandleError) as refused:
        sdk.operate_dag(created.generic_id, "PASS")
    assert refused.value.err_code == "Task.Dag.Operator.PassNotAllowed"
    assert sdk.operate_dag_sync(created.generic_id, "ROLLBACK") is True
    dag = sdk.get_dag(created.generic_id)
    assert dag.is_succeed() and dag.is_rollback()
    assert not Dag.objects.filter(cluster=cluster, holds_lock=True).exists()


def test_cancel_ends_in_failed_cancel(sdk, uploaded, cluster):
    fault_inject(cluster=cluster, node_name="Download all required packages", kind="hang")
    created = sdk.upgrade_ob(TARGET_VERSION, TARGET_RELEASE, "ROLLING")
    wait_until_running(created.dag_id, "Download all required packages")
    with pytest.raises(OBShellHandleError) as refused:
        sdk.operate_dag(created.generic_id, "RETRY")
    assert refused.value.err_code == "Task.Dag.Operator.RetryNotFailedDag"
    assert sdk.operate_dag_sync(created.generic_id, "CANCEL") is True
    dag = sdk.get_dag(created.generic_id)
    assert dag.is_failed() and dag.is_cancel()
    with pytest.raises(TaskExecuteFailedError) as failure:
        sdk.wait_dag_succeed(created.generic_id)
    assert failure.value.message == f"Task {dag.name} canceled."
    with pytest.raises(OBShellHandleError) as again:
        sdk.operate_dag(created.generic_id, "CANCEL")
    assert again.value.err_code == "Task.Dag.Operator.CancelFinishedDag"
