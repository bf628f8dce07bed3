"""obshell's own upgrade through the official SDK (obshell 0.0.9) against a spawned server: upload_pkg of an
obshell rpm, upgrade_agent_check[_sync], upgrade_agent[_sync] through "Restart obshell" to SUCCEED, a failure at
the restart and its retry, and the refusals the SDK surfaces.

How the restart looks to a client: a real agent's "Restart obshell" refuses connections for a few seconds and the
SDK's wait_dag_succeed retries them (spec 7; obshell-agent-client.md 4.2). Here the DAG lives in this server's
database and this server does not restart with the simulated agent, so every poll is answered (the stage shows
RUNNING, then the continued sub-task's lines); the SDK never needs its connection retries, and never sees an
error answer it would not retry."""

import pytest
from obshell.service.client_v1 import OBShellHandleError, TaskExecuteFailedError

from tests.support.builds import OB_4_3_0_1_20231101 as OB_TARGET
from tests.support.builds import OBSHELL_4_2_2_0_20240108 as OBSHELL
from tests.support.dags import start_upgrade
from tests.support.packages import stock_packages, write_obshell_rpm
from upgrades.backends.faults import fault_inject
from upgrades.models import Dag, Package, Server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.usefixtures("fast_sdk_polling")]

CURRENT_AGENT = "4.2.1.0-100000102023092807"
RESTART_LINES = [
    "restart agent task continue",
    f"current obshell version is {OBSHELL.label}",
    "upgrade from version which not set target version, check previous version.",
    f"previous version is {CURRENT_AGENT}",
    "Connecting to the database.",
    "Updating version.",
    "Syncing agent public key to oceanbase.",
]


@pytest.fixture
def uploaded(sdk, tmp_path):
    path = write_obshell_rpm(OBSHELL, tmp_path / "rpms")
    assert sdk.upload_pkg(str(path)) is None
    assert Package.objects.filter(name="obshell", version=OBSHELL.version).count() == 1
    return path


def test_check_then_upgrade_to_succeed_through_the_restart(sdk, uploaded, cluster):
    check = sdk.upgrade_agent_check_sync(OBSHELL.version, OBSHELL.release)
    assert check.is_succeed() and check.name == f"Upgrade check obshell {OBSHELL.version}-{OBSHELL.release}"
    assert [n.name for n in check.nodes][0] == "Create upgrade dir" and len(check.nodes) == 5
    assert set(Server.objects.values_list("agent_version", flat=True)) == {CURRENT_AGENT}  # a check changes nothing

    done = sdk.upgrade_agent_sync(OBSHELL.version, OBSHELL.release)
    assert done.is_succeed() and done.is_run() and done.stage == done.max_stage == 9
    assert done.name == f"Upgrade obshell {OBSHELL.version}-{OBSHELL.release}"
    restart = next(n for n in done.nodes if n.name == "Restart obshell")
    assert len(restart.sub_tasks) == 3
    for sub_task in restart.sub_tasks:
        assert sub_task.task_logs[-len(RESTART_LINES) :] == RESTART_LINES

    info = sdk.get_ob_info()
    assert [agent.version for agent in info.agents] == [OBSHELL.label] * 3
    assert info.cluster.version == "4.2.1.0"  # OceanBase itself is untouched
    # The root /info carries no token, so no cluster: it describes this server, not the upgraded agents.
    assert str(sdk.get_info().version) != OBSHELL.label
    assert sdk.get_cluster_unfinished_dag() == []
    # Upgrading to the version now running is refused, as obshell refuses it.
    with pytest.raises(OBShellHandleError) as again:
        sdk.upgrade_agent(OBSHELL.version, OBSHELL.release)
    assert again.value.err_code == "Agent.Upgrade.ToLowerVersion"


def test_async_calls_and_waiting_on_the_returned_id(sdk, uploaded, cluster):
    created = sdk.upgrade_agent_check(OBSHELL.version, OBSHELL.release, upgrade_dir="/tmp/obshell-upgrade")
    assert created.nodes == [] and created.max_stage == 5 and created.state == "READY"
    assert sdk.wait_dag_succeed(created.generic_id).is_succeed()
    started = sdk.upgrade_agent(OBSHELL.version, OBSHELL.release)
    assert started.max_stage == 9 and Dag.objects.get(pk=started.dag_id).holds_lock
    assert sdk.wait_dag_succeed(started.generic_id).is_succeed()
    assert not Dag.objects.filter(cluster=cluster, holds_lock=True).exists()


def test_a_failed_restart_surfaces_and_retry_finishes_it(sdk, uploaded, cluster):
    agent = cluster.agent_server()
    fault_inject(cluster=cluster, node_name="Restart obshell", server=agent)
    with pytest.raises(TaskExecuteFailedError) as failure:
        sdk.upgrade_agent_sync(OBSHELL.version, OBSHELL.release)
    assert failure.value.message.startswith(f"{agent.ip}:{agent.agent_port} ERROR: [Agent.Unavailable]")
    failed = failure.value.dag
    assert next(n for n in failed.nodes if n.is_failed()).name == "Restart obshell"
    # The restart cannot be rolled back or passed (spec 5.8); the lock stays with the failed run.
    for operator, code in (
        ("ROLLBACK", "Task.Dag.Operator.RollbackNotAllowed"),
        ("PASS", "Task.Dag.Operator.PassNotAllowed"),
    ):
        with pytest.raises(OBShellHandleError) as refused:
            sdk.operate_dag(failed.generic_id, operator)
        assert refused.value.err_code == code
    stock_packages(OB_TARGET)
    with pytest.raises(OBShellHandleError) as locked:
        sdk.upgrade_ob(OB_TARGET.version, OB_TARGET.release, "ROLLING")
    assert locked.value.err_code == "OB.Cluster.UnderMaintenanceWithDag"

    assert sdk.operate_dag_sync(failed.generic_id, "RETRY") is True
    dag = sdk.get_dag(failed.generic_id)
    assert dag.is_succeed() and dag.is_run()
    assert set(Server.objects.values_list("agent_version", flat=True)) == {OBSHELL.label}


def test_refusals_the_sdk_surfaces(sdk, uploaded, cluster):
    with pytest.raises(OBShellHandleError) as lower:
        sdk.upgrade_agent_check("4.2.1.0", "100000102023092807.el7")
    assert lower.value.err_code == "Agent.Upgrade.ToLowerVersion"
    with pytest.raises(OBShellHandleError) as release:
        sdk.upgrade_agent("4.2.2.0", "100000032024010818")
    assert release.value.err_code == "Package.ReleaseFormat.Invalid"
    with pytest.raises(OBShellHandleError) as path:
        sdk.upgrade_agent_check_sync(OBSHELL.version, OBSHELL.release, upgrade_dir="tmp/../x")
    assert path.value.err_code == "Common.InvalidPath"

    # A failed OB upgrade keeps the cluster's lock (spec 6.3): obshell's upgrade is refused until it is dealt with.
    stock_packages(OB_TARGET)
    fault_inject(cluster=cluster, node_name="Create upgrade dir")
    ob_run = start_upgrade(cluster, OB_TARGET)
    with pytest.raises(TaskExecuteFailedError):
        sdk.wait_dag_succeed(f"1{ob_run.pk}")
    with pytest.raises(OBShellHandleError) as locked:
        sdk.upgrade_agent_sync(OBSHELL.version, OBSHELL.release)
    assert locked.value.err_code == "OB.Cluster.UnderMaintenanceWithDag"
    assert ob_run.name in locked.value.message
    assert not Dag.objects.filter(kind=Dag.Kind.AGENT_UPGRADE).exists()
    # The check takes no lock.
    assert sdk.upgrade_agent_check_sync(OBSHELL.version, OBSHELL.release).is_succeed()
