"""The fake obshell agent (tests/support/fake_agent.py) against the official SDK 0.0.9: the SDK is written by
obshell's authors, so where the fake answers it correctly the fake speaks obshell's protocol, and the real-cluster
tests can trust it as a peer."""

import time

import pytest
from obshell import ClientSet
from obshell.auth.password import PasswordAuth
from obshell.service import client_v1
from obshell.service.client_v1 import OBShellHandleError, TaskExecuteFailedError

from tests.support.builds import OB_4_2_1_0_20230928 as START
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.fake_agent import FakeCluster
from tests.support.packages import write_rpms


class _FastTime:
    """The SDK polls every 3 s and retries refused connections 60 times, 3 s apart: 50 ms here."""

    def __getattr__(self, name):
        return getattr(time, name)

    def sleep(self, seconds):
        time.sleep(min(seconds, 0.05))


@pytest.fixture(autouse=True)
def fast_sdk(monkeypatch):
    monkeypatch.setattr(client_v1, "time", _FastTime())


@pytest.fixture(scope="module")
def rpms(tmp_path_factory):
    return write_rpms(TARGET, tmp_path_factory.mktemp("rpms"))


def sdk_for(cluster, agent=0, password=None):
    agent = cluster.agents[agent]
    return ClientSet(agent.ip, agent.port, PasswordAuth(cluster.password if password is None else password)).v1


def start_build():
    return f"{START.version}-{START.build_number}"


def test_sdk_reads_info_topology_and_packages(rpms):
    with FakeCluster(build=start_build(), agent_version="4.4.2.0-100000012026041611") as cluster:
        sdk = sdk_for(cluster)
        info = sdk.get_info()
        assert info.identity == "CLUSTER AGENT" and str(info.version).startswith("4.4.2")
        ob_info = sdk.get_ob_info()
        assert sorted(ob_info.cluster.zone_config) == ["zone1", "zone2", "zone3"]
        for path in rpms:
            assert sdk.upload_pkg(str(path)) is None
        assert {package["name"] for package in cluster.packages} == {"oceanbase-ce", "oceanbase-ce-libs"}
        assert all(len(package["md5"]) == 32 for package in cluster.packages)


def test_rolling_upgrade_through_restart_and_rekey(rpms):
    """A 512-bit 4.3.1 agent upgraded to a 4.4.2 obshell comes back from "Restart obshell" with a 1024-bit key; the
    SDK's poll survives the refused connections and (on the DecryptFailed code 1) refetches the key."""
    with FakeCluster(build=start_build(), agent_version="4.3.1.0-100000012025062514", key_bits=512) as cluster:
        cluster.new_agent_version = "4.4.2.0-100000012026041611"
        sdk = sdk_for(cluster)
        for path in rpms:
            sdk.upload_pkg(str(path))
        old_keys = [agent.key.key_size for agent in cluster.agents]
        dag = sdk.upgrade_ob_sync(TARGET.version, TARGET.release, "ROLLING")
        assert dag.state == "SUCCEED" and dag.max_stage == 30
        assert old_keys == [512, 512, 512]
        assert [agent.key.key_size for agent in cluster.agents] == [1024, 1024, 1024]
        assert {agent.build for agent in cluster.agents} == {f"{TARGET.version}-{TARGET.build_number}"}
        restart = next(node for node in sdk.get_dag(dag.generic_id).nodes if node.name == "Restart obshell")
        assert "restart agent task continue" in restart.sub_tasks[0].task_logs


def test_failure_is_reported_and_retry_finishes(rpms):
    with FakeCluster(build=start_build(), new_agent_version="4.5.0.0-100000012026050810") as cluster:
        sdk = sdk_for(cluster)
        for path in rpms:
            sdk.upload_pkg(str(path))
        cluster.fail_node("Execute upgrade pre script")
        with pytest.raises(TaskExecuteFailedError) as failed:
            sdk.upgrade_ob_sync(TARGET.version, TARGET.release, "ROLLING")
        assert "Execute upgrade pre script failed (injected)" in failed.value.message
        maintained = cluster.lock_holder()
        assert maintained is not None and maintained.state == "FAILED"
        with pytest.raises(OBShellHandleError) as refused:
            sdk.upgrade_ob(TARGET.version, TARGET.release, "ROLLING")
        assert refused.value.err_code == "OB.Cluster.UnderMaintenanceWithDag"
        assert sdk.operate_dag_sync(f"1{maintained.row}", "RETRY")
        assert cluster.lock_holder() is None


def test_refusals_in_both_error_formats(rpms):
    with FakeCluster(build=start_build()) as cluster:
        with pytest.raises(OBShellHandleError) as wrong:
            sdk_for(cluster, password="wrong").get_ob_info()
        assert (wrong.value.code, wrong.value.err_code) == (
            10008,
            "Security.Authentication.IncorrectOceanbasePassword",
        )
        with pytest.raises(OBShellHandleError) as missing:
            sdk_for(cluster).upgrade_ob(TARGET.version, TARGET.release, "ROLLING")
        assert missing.value.err_code == "OB.Package.NotExist"
    with FakeCluster(build=start_build(), agent_version="4.3.0.0-100000012025043010") as legacy:
        with pytest.raises(OBShellHandleError) as old:
            sdk_for(legacy).get_dag("199")
        assert old.value.code == 2300 and old.value.err_code == ""


def test_v1_agent_and_observer_down_fallbacks():
    with FakeCluster(build=start_build(), agent_version="4.2.2.0", key_bits=512) as v1:
        assert sorted(sdk_for(v1).get_ob_info().cluster.zone_config) == ["zone1", "zone2", "zone3"]
    with FakeCluster(build=start_build()) as cluster:
        dag = cluster.create_dag(
            "Held", ["Create upgrade dir"], maintenance=True, target={}, agent_for_serial=cluster.agents[0]
        )
        cluster.hang.add("Create upgrade dir")
        cluster.agents[0].observer_up = False
        sdk = sdk_for(cluster)
        assert sdk.get_dag(f"1{dag.row}").name == "Held"  # GET dag asks a peer
        with pytest.raises(OBShellHandleError) as down:
            sdk.get_node(f"1{dag.nodes[0].row}")
        assert down.value.err_code == "OB.Server.Process.NotExist"
        assert sdk.get_cluster_unfinished_dag() == []
