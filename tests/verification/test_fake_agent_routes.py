"""The fake agent's parameter and tenant routes against the official SDK 0.0.9 (written by obshell's authors), and
their version gates (client §1.2): a verifying client reads what a real agent of that version serves."""

import pytest
from obshell import ClientSet
from obshell.auth.password import PasswordAuth
from obshell.service.client_v1 import OBShellHandleError

from tests.support.builds import OB_4_2_1_0_20230928 as START
from tests.support.fake_agent import FakeCluster

BUILD = f"{START.version}-{START.build_number}"


def sdk_for(cluster):
    agent = cluster.agents[0]
    return ClientSet(agent.ip, agent.port, PasswordAuth(cluster.password)).v1


def test_cluster_parameters_name_every_server_and_tenant():
    with FakeCluster(build=BUILD, agent_version="4.3.1.0-100000012025062514") as fake:
        parameters = {item.name: item for item in sdk_for(fake).list_cluster_parameters()}
        assert {"min_observer_version", "enable_upgrade_mode", "compatible"} <= set(parameters)
        min_version = parameters["min_observer_version"]
        assert min_version.scope == "CLUSTER" and min_version.is_single_value
        assert {(v.svr_port, v.value) for v in min_version.server_value} == {
            (agent.svr_port, START.version) for agent in fake.agents
        }
        compatible = parameters["compatible"]
        assert compatible.scope == "TENANT"
        assert {(v.tenant_name, v.value) for v in compatible.tenant_value} == {("sys", "4.2.1.0"), ("app", "4.2.1.0")}
        assert len(compatible.server_value) == 2 * len(fake.agents)


def test_tenant_routes_from_4_2_4():
    with FakeCluster(build=BUILD, agent_version="4.2.4.0-100000012024091215") as fake:
        sdk = sdk_for(fake)
        assert [(tenant.name, tenant.id, tenant.status) for tenant in sdk.get_all_tenants()] == [
            ("sys", 1, "NORMAL"),
            ("app", 1002, "NORMAL"),
        ]
        assert sdk.get_tenant_parameter("app", "compatible").value == START.version
        assert [p.name for p in sdk.get_tenant_parameters("app", "compat%")] == ["compatible"]
        with pytest.raises(OBShellHandleError):
            sdk.get_tenant_parameter("nosuch", "compatible")
        with pytest.raises(OBShellHandleError):
            sdk.list_cluster_parameters()  # 4.3.0.0+


def test_no_tenant_routes_before_4_2_4():
    with (
        FakeCluster(build=BUILD, agent_version="4.2.3.0-100000012024041915", key_bits=512) as fake,
        pytest.raises(OBShellHandleError),
    ):
        sdk_for(fake).get_all_tenants()
