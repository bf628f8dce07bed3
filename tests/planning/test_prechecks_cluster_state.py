"""Agents, observers, python and cluster health, read from the simulated cluster's backend state."""

import pytest

from tests.planning.helpers import checks_by_key
from tests.support.builds import OB_4_3_0_1_20240322 as TARGET
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from upgrades.models import Server
from upgrades.planning.plan import plan_upgrade

TARGET_VERSION, TARGET_RELEASE = TARGET


def plan(cluster):
    return plan_upgrade(cluster=cluster, version=TARGET_VERSION, release=TARGET_RELEASE, mode="ROLLING")


@pytest.mark.django_db
def test_stopped_agents_are_unavailable():
    cluster = make_cluster(zones=3)
    servers = list(cluster.servers.order_by("id"))
    Server.objects.filter(pk__in=[servers[1].pk, servers[2].pk]).update(status=Server.Status.INACTIVE)
    error = plan(cluster).error
    assert (error.err_code, error.status) == ("Agent.Unavailable", 500)
    assert error.message == f"Agent {servers[1].ip}:2886,{servers[2].ip}:2886 is not available"


@pytest.mark.django_db
def test_stopped_observers_are_unavailable():
    cluster = make_cluster(zones=3)
    server = cluster.servers.order_by("id").last()
    Server.objects.filter(pk=server.pk).update(process_running=False)
    error = plan(cluster).error
    assert (error.err_code, error.status, error.message) == (
        "OB.Server.Unavailable",
        500,
        f"Observer '{server.ip}:2881' is not available",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("health", "key", "err_code", "status", "message"),
    [
        (
            {"tenants_schema_not_refreshed": ["t1", "t2"]},
            "tenants_schema",
            "OB.Upgrade.TenantsSchemaNotRefreshed",
            400,
            "There are tenants with unfreshed schema: t1,t2",
        ),
        ({"tablets_merging": 7}, "tablets_merging", "OB.Upgrade.TabletInMerging", 400, "There are 7 tablets merging"),
        (
            {"tenants_in_major_compaction": 2},
            "major_compaction",
            "OB.Upgrade.TenantInMajorCompaction",
            400,
            "There are 2 tenants merging",
        ),
        (
            {"min_observer_version_not_sync": True},
            "min_observer_version",
            "OB.Upgrade.MinObserverVersionNotSync",
            400,
            "min_observer_version is not sync",
        ),
        (
            {"tenant_compatible_not_sync": True},
            "tenant_compatible",
            "OB.Upgrade.TenantCompatibleNotSync",
            400,
            "Tenant compatible is not sync",
        ),
        (
            {"running_backup_task": 3},
            "backup",
            "OB.Upgrade.HasRunningBackupTask",
            400,
            "There are 3 running backup tasks, upgrade is not allowed temporarily",
        ),
    ],
)
def test_health_findings_fail_their_check(health, key, err_code, status, message):
    cluster = make_cluster(zones=3)
    stock_packages(TARGET, cluster.edition)
    cluster.health = health
    cluster.save()
    result = plan(cluster)
    check = checks_by_key(result)[key]
    assert (check.ok, check.err_code, check.status, check.message) == (False, err_code, status, message)
    assert (result.error.err_code, result.error.message) == (err_code, message)
    assert sum(c.ok is False for c in result.checks) == 1
    assert result.nodes  # the route and node list are still previewed


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("health", "err_code", "inner"),
    [
        ({"python_missing": True}, "Environment.WithoutPython", "Please check if Python is installed"),
        (
            {"mysql_connector_missing": True},
            "Environment.WithoutModule",
            "Please check if Python module 'mysql.connector' is installed",
        ),
    ],
)
def test_python_missing_on_the_cluster_agents_host_is_wrapped_with_its_address(health, err_code, inner):
    cluster = make_cluster(zones=3)
    stock_packages(TARGET, cluster.edition)
    cluster.health = health
    cluster.save()
    result = plan(cluster)
    address = cluster.agent_server().agent_address
    check = checks_by_key(result)["python"]
    # obshell's current text (checkPythonEnvOnRealExecuteAgents wraps the local check with the agent).
    message = f"python environment check failed on agent {address}: {inner}"
    assert (check.ok, check.err_code, check.status, check.message) == (False, err_code, 500, message)
    assert sum(c.ok is False for c in result.checks) == 1


@pytest.mark.django_db
def test_python_missing_on_another_host_comes_back_through_its_env_check_route():
    cluster = make_cluster(zones=3)
    stock_packages(TARGET, cluster.edition)
    remote = cluster.servers.order_by("zone__position", "id").last()
    cluster.health = {"mysql_connector_missing": [remote.ip]}
    cluster.save()
    check = checks_by_key(plan(cluster))["python"]
    address = remote.agent_address
    assert (check.ok, check.err_code, check.status) == (False, "Agent.RPC.RequestError", 500)
    assert check.message == (
        f"python environment check failed on agent {address}: failed to check python environment on agent "
        f"{address}: Request [POST]/api/v1/upgrade/env/check to {address} error: Please check if Python module "
        "'mysql.connector' is installed"
    )


@pytest.mark.django_db
def test_tenant_compatible_is_not_compared_from_4_3_3_0():
    cluster = make_cluster(zones=3, version="4.3.3.0", build="100000142024101215")
    cluster.health = {"tenant_compatible_not_sync": True}
    cluster.save()
    check = checks_by_key(plan(cluster))["tenant_compatible"]
    assert check.ok is True
    assert "4.3.3.0" in check.message
