"""A rolling upgrade runs spec 5's nodes in order and changes the simulated cluster zone by zone."""

import pytest

from tests.engine.helpers import assert_gapless_events
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import START_BUILD, make_cluster
from tests.support.packages import stock_packages
from tests.support.spec_nodes import upgrade_names
from upgrades.engine.worker import Worker
from upgrades.models import Node, Server, Zone
from upgrades.models.dag import State

TARGET_BUILD_VERSION = TARGET.build_version

OLD_BUILD_VERSION = START_BUILD.build_version


def drive(dag, on_node_started):
    """Run the DAG one worker step at a time, calling on_node_started(node) as each node's sub-tasks go READY."""
    worker = Worker(name="test", dag_ids=[dag.pk], chain=False)
    seen = set()
    for _ in range(10_000):
        dag.refresh_from_db()
        if dag.state in (State.SUCCEED, State.FAILED):
            return dag
        node = Node.objects.get(dag=dag, seq=dag.stage)
        if node.state == State.RUNNING and node.pk not in seen:
            seen.add(node.pk)
            on_node_started(node)
        worker.step()
    raise AssertionError("the DAG did not finish")


def zone_states(cluster):
    return dict(Zone.objects.filter(cluster=cluster).values_list("name", "status"))


def builds_by_zone(cluster):
    result = {}
    for zone_name, build in Server.objects.filter(cluster=cluster).values_list("zone__name", "build_version"):
        result.setdefault(zone_name, set()).add(build)
    return result


@pytest.mark.django_db
@pytest.mark.parametrize("edition", ["community", "business"])
def test_rolling_upgrade_succeeds_zone_by_zone(edition):
    cluster = make_cluster(edition=edition, zones=3, servers_per_zone=2)
    stock_packages(TARGET, edition)
    dag = start_upgrade(cluster, TARGET, mode="ROLLING")
    names = list(dag.nodes.order_by("seq").values_list("name", flat=True))
    assert names == upgrade_names(edition=edition, mode="ROLLING")
    assert dag.max_stage == len(names) == (30 if edition == "community" else 26)

    observed = []

    def check(node):
        zones = zone_states(cluster)
        builds = builds_by_zone(cluster)
        if node.action == "reinstall_observer":
            # Only the zone being reinstalled is stopped; earlier zones are done, later ones untouched.
            assert zones[node.zone_name] == Zone.Status.INACTIVE
            assert all(status == Zone.Status.ACTIVE for name, status in zones.items() if name != node.zone_name)
            assert set(
                Server.objects.filter(zone__name=node.zone_name, cluster=cluster).values_list("status", flat=True)
            ) == {Server.Status.INACTIVE}
            index = int(node.zone_name.removeprefix("zone"))
            for name, zone_builds in builds.items():
                expected = TARGET_BUILD_VERSION if int(name.removeprefix("zone")) < index else OLD_BUILD_VERSION
                assert zone_builds == {expected}, (node.zone_name, name, zone_builds)
            observed.append(node.zone_name)
        elif node.action in ("zone_health_checker_script", "start_zone"):
            assert zones[node.zone_name] == Zone.Status.INACTIVE
            assert builds[node.zone_name] == {TARGET_BUILD_VERSION}
        else:
            assert all(status == Zone.Status.ACTIVE for status in zones.values())

    dag = drive(dag, check)
    assert dag.state == State.SUCCEED
    assert observed == ["zone1", "zone2", "zone3"]
    assert set(Server.objects.filter(cluster=cluster).values_list("build_version", flat=True)) == {TARGET_BUILD_VERSION}
    assert set(Server.objects.filter(cluster=cluster).values_list("status", "process_running")) == {
        (Server.Status.ACTIVE, True)
    }
    assert set(zone_states(cluster).values()) == {Zone.Status.ACTIVE}
    assert not dag.holds_lock and dag.is_finished
    assert set(dag.nodes.values_list("state", flat=True)) == {State.SUCCEED}
    assert_gapless_events(dag)


@pytest.mark.django_db
def test_rolling_upgrade_with_freeze_server_adds_a_minor_freeze_per_zone():
    cluster = make_cluster(zones=3)
    stock_packages(TARGET)
    dag = start_upgrade(cluster, TARGET, mode="ROLLING", freeze_server=True)
    assert list(dag.nodes.order_by("seq").values_list("name", flat=True)) == upgrade_names(
        edition="community", mode="ROLLING", freeze=True
    )
    dag = drive(dag, lambda node: None)
    assert dag.state == State.SUCCEED
    assert_gapless_events(dag)
