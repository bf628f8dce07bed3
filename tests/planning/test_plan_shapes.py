"""A plan = route + checks + node list: every edition and mode, several hops, freeze_server."""

import ipaddress
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.support.builds import OB_4_3_0_1_20240322 as TARGET
from tests.support.builds import Build
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from upgrades.planning.plan import plan_upgrade

TARGET_VERSION, TARGET_RELEASE = TARGET


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("edition", "zones", "mode", "freeze", "max_stage"),
    [
        ("community", 3, "ROLLING", False, 30),
        ("community", 3, "STOPSERVICE", False, 18),
        ("community", 3, "ROLLING", True, 33),
        ("community", 3, "STOPSERVICE", True, 19),
        ("business", 3, "ROLLING", False, 26),
        ("business", 3, "STOPSERVICE", False, 14),
        ("standalone", 1, "STOPSERVICE", False, 18),
    ],
)
def test_one_hop_shapes(edition, zones, mode, freeze, max_stage):
    cluster = make_cluster(edition=edition, zones=zones)
    stock_packages(TARGET, cluster.edition)
    plan = plan_upgrade(
        cluster=cluster, version=TARGET_VERSION, release=TARGET_RELEASE, mode=mode, freeze_server=freeze
    )
    assert plan.ok, plan.error
    assert plan.max_stage == len(plan.nodes) == max_stage
    assert plan.freeze_server is freeze
    assert len(plan.route) == 1
    assert plan.maintenance_type == 2


@pytest.mark.django_db
def test_a_two_hop_plan_from_4_2_0_0():
    cluster = make_cluster(zones=3, servers_per_zone=2, version="4.2.0.0", build="101000032023091319")
    stock_packages(TARGET, cluster.edition)
    stock_packages(Build("4.2.1.2", "100000012023120101.el7"), cluster.edition)
    plan = plan_upgrade(cluster=cluster, version=TARGET_VERSION, release=TARGET_RELEASE, mode="ROLLING")
    assert plan.ok, plan.error
    assert plan.route == [
        {"version": "4.2.1.2", "release": "null", "build_version": "4.2.1.2", "require_from_binary": True},
        {
            "version": "4.3.0.1",
            "release": "100000242024032211",
            "build_version": "4.3.0.1-100000242024032211",
            "require_from_binary": False,
        },
    ]
    assert plan.max_stage == 50
    assert [n.hop for n in plan.nodes].count(1) == 20
    assert len(plan.packages) == 4


@pytest.mark.django_db
def test_as_dict_is_one_json_object_with_numbered_nodes():
    cluster = make_cluster(zones=3)
    stock_packages(TARGET, cluster.edition)
    plan = plan_upgrade(cluster=cluster, version=TARGET_VERSION, release=TARGET_RELEASE, mode="stopService")
    data = json.loads(json.dumps(plan.as_dict()))
    assert data["cluster"] == cluster.name
    assert (data["kind"], data["mode"], data["max_stage"], data["ok"], data["error"]) == (
        "upgrade",
        "STOPSERVICE",
        18,
        True,
        None,
    )
    assert (data["from_version"], data["to_version"]) == ("4.2.1.0-100000102023092807", "4.3.0.1-100000242024032211")
    assert data["dag_name"] == f"OB stop service upgrade {TARGET_VERSION}-{TARGET_RELEASE}"
    assert [n["seq"] for n in data["nodes"]] == list(range(1, 19))
    reinstall = next(n for n in data["nodes"] if n["action"] == "reinstall_observer")
    assert len(reinstall["agents"]) == 3 and set(reinstall["agents"][0]) == {"server_id", "ip", "port"}
    assert {c["key"] for c in data["checks"]} >= {"mode", "route", "maintenance"}
    assert data["packages"][0]["rpm_name"] == f"oceanbase-ce-{TARGET_VERSION}-{TARGET_RELEASE}.x86_64.rpm"


@pytest.mark.django_db
def test_planning_reads_with_few_queries_and_writes_nothing():
    cluster = make_cluster(zones=3, servers_per_zone=20)
    stock_packages(TARGET, cluster.edition)
    with CaptureQueriesContext(connection) as queries:
        plan = plan_upgrade(cluster=cluster, version=TARGET_VERSION, release=TARGET_RELEASE, mode="ROLLING")
    assert plan.ok and plan.max_stage == 30
    # zones, servers, target package, 2 hop packages, maintenance lock
    assert len(queries) <= 6
    assert all(q["sql"].lstrip().upper().startswith("SELECT") for q in queries.captured_queries)
    # 10 parallel nodes over 60 servers, 3 zone reinstalls over 20 each, 17 serial nodes.
    assert sum(len(n.agents) for n in plan.nodes) == 60 * 10 + 3 * 20 + 17


@pytest.mark.django_db
def test_a_three_hundred_server_cluster_plans_with_valid_distinct_addresses():
    cluster = make_cluster(zones=3, servers_per_zone=100)
    stock_packages(TARGET, cluster.edition)
    plan = plan_upgrade(cluster=cluster, version=TARGET_VERSION, release=TARGET_RELEASE, mode="ROLLING")
    assert plan.ok, plan.error
    addresses = [ipaddress.ip_address(a["ip"]) for a in plan.as_dict()["nodes"][0]["agents"]]
    assert len(set(addresses)) == 300
    assert [len(n.agents) for n in plan.nodes if n.action == "reinstall_observer"] == [100, 100, 100]
