"""Benchmark (make bench): planning a 3-zone x 100-server community cluster (route, pre-checks, node list).

Target: under 100 ms per plan. The baseline, measured in the same run, is the least any planner must do:
`Cluster.objects.get` plus one query listing the cluster's servers. Figures are printed; nothing asserts on time.
"""

import statistics
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.support.builds import OB_4_2_1_2_20231205 as BARRIER
from tests.support.builds import OB_4_3_0_1_20240322 as TARGET
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from tests.support.paths import shipped_dep_yaml
from upgrades.models import Cluster
from upgrades.planning.plan import plan_upgrade
from upgrades.planning.route import shortest_route

TARGET_VERSION, TARGET_RELEASE = TARGET

ROUNDS = 30


def _median_ms(fn, rounds=ROUNDS):
    fn()  # warm caches (query compilation, imports)
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), min(samples)


@pytest.mark.django_db
def test_bench_planning_300_servers():
    cluster = make_cluster(
        "bench-planning", zones=3, servers_per_zone=100, version="4.2.0.0", build="101000032023091319"
    )
    stock_packages(BARRIER, cluster.edition, dep_yaml="")
    stock_packages(TARGET, cluster.edition)

    def baseline():
        c = Cluster.objects.get(pk=cluster.pk)
        return list(c.servers.all())

    def plan():
        c = Cluster.objects.get(pk=cluster.pk)
        return plan_upgrade(cluster=c, version=TARGET_VERSION, release=TARGET_RELEASE, mode="ROLLING")

    result = plan()
    assert result.ok, result.error
    assert result.max_stage == 50 and len(result.route) == 2
    with CaptureQueriesContext(connection) as queries:
        plan()
    dep_yaml = shipped_dep_yaml()

    def route_only():
        return shortest_route(
            dep_yaml, current_version="4.2.0.0", current_build="1", target_version=TARGET_VERSION, target_build="2"
        )

    base_ms, base_min = _median_ms(baseline)
    plan_ms, plan_min = _median_ms(plan)
    route_ms, _ = _median_ms(route_only)
    agents = sum(len(n.agents) for n in result.nodes)
    print(
        f"\nplanning 3 zones x 100 servers ({result.max_stage} nodes, {agents} sub-task agents, 2 hops, "
        f"{len(queries)} queries, {connection.vendor}):"
        f"\n  plan_upgrade   median {plan_ms:8.2f} ms  (min {plan_min:.2f} ms; target < 100 ms)"
        f"\n  baseline       median {base_ms:8.2f} ms  (min {base_min:.2f} ms; Cluster.objects.get + servers list)"
        f"\n  ratio plan/baseline: {plan_ms / base_ms:.1f}x"
        f"\n  route search alone (real 4.0-4.3 dep file): median {route_ms:.3f} ms"
    )
