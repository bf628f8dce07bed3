"""A two-hop route (4.2.0.0 -> barrier 4.2.1.2 -> 4.3.0.1) installs the barrier build first, then the target."""

import pytest

from tests.engine.helpers import (
    BARRIER_RELEASE,
    BARRIER_VERSION,
    TARGET_BUILD_VERSION,
    TWO_HOP_FROM,
    add_target_packages,
    assert_gapless_events,
    start,
)
from tests.support.factories import make_cluster
from tests.support.spec_nodes import upgrade_names
from upgrades.engine.worker import Worker
from upgrades.models import Node, Server
from upgrades.models.dag import State

BARRIER_BUILD_VERSION = f"{BARRIER_VERSION}_{BARRIER_RELEASE.split('.')[0]}"


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["ROLLING", "STOPSERVICE"])
def test_two_hops_pass_through_the_barrier_build(mode):
    version, build = TWO_HOP_FROM
    cluster = make_cluster(zones=3, version=version, build=build)
    add_target_packages(barrier=True)
    dag = start(cluster, mode=mode)
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
