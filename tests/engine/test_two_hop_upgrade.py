"""A two-hop route (4.2.0.0 -> barrier 4.2.1.2 -> 4.3.0.1) installs the barrier build first, then the target."""

import pytest

from tests.engine.helpers import assert_gapless_events
from tests.support.builds import OB_4_2_0_0_20230801 as TWO_HOP_START
from tests.support.builds import OB_4_2_1_2_20231212 as BARRIER
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from tests.support.spec_nodes import upgrade_names
from upgrades.engine.worker import Worker
from upgrades.models import Node, Server
from upgrades.models.dag import State

TARGET_BUILD_VERSION = TARGET.build_version
BARRIER_VERSION = BARRIER.version
TWO_HOP_FROM = (TWO_HOP_START.version, TWO_HOP_START.build_number)

BARRIER_BUILD_VERSION = BARRIER.build_version


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["ROLLING", "STOPSERVICE"])
def test_two_hops_pass_through_the_barrier_build(mode):
    version, build = TWO_HOP_FROM
    cluster = make_cluster(zones=3, version=version, build=build)
    stock_packages(TARGET)
    stock_packages(BARRIER, dep_yaml="")
    dag = start_upgrade(cluster, TARGET, mode=mode)
    assert [hop["version"] for hop in dag.route] == [BARRIER_VERSION, "4.3.0.1"]
    assert list(dag.nodes.order_by("seq").values_list("name", flat=True)) == upgrade_names(
        edition="community", mode=mode, hops=2
    )

    builds_at_second_hop = None
    worker = Worker(name="test", dag_ids=[dag.pk], chain=False)
    for _ in range(10_000):
        if dag.state in (State.SUCCEED, State.FAILED):
            break
        worker.step()
        dag.refresh_from_db()
        node = Node.objects.get(dag=dag, seq=dag.stage)
        if builds_at_second_hop is None and node.hop == 1:
            builds_at_second_hop = set(Server.objects.filter(cluster=cluster).values_list("build_version", flat=True))

    assert dag.state == State.SUCCEED
    assert builds_at_second_hop == {BARRIER_BUILD_VERSION}
    assert set(Server.objects.filter(cluster=cluster).values_list("build_version", flat=True)) == {TARGET_BUILD_VERSION}
    assert_gapless_events(dag)
