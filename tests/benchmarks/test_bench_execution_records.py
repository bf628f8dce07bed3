"""Benchmark (make bench): what recording every execution of a simulated step (ExecutionRecord: one INSERT at the
start, one UPDATE at the end, each its own autocommit) costs a zero-duration upgrade, against the same upgrade
with SIMULATION_RECORD_EXECUTIONS=0 measured in this run. On SQLite, and on PostgreSQL when DATABASE_URL says so."""

import time

import pytest
from django.db import connection

from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from upgrades.engine.runner import run_dag_to_end
from upgrades.models import Dag, ExecutionRecord, SubTask
from upgrades.models.dag import State

ROUNDS = 3


def timed_upgrades(cluster, rounds):
    best = float("inf")
    for _ in range(rounds):
        Dag.objects.filter(cluster=cluster).delete()
        cluster.servers.update(build_version="4.2.1.0_100000102023092807", status="ACTIVE", process_running=True)
        cluster.zones.update(status="ACTIVE")
        dag = start_upgrade(cluster, TARGET)
        began = time.perf_counter()
        assert run_dag_to_end(dag.pk, timeout=300).state == State.SUCCEED
        best = min(best, time.perf_counter() - began)
    return best, SubTask.objects.filter(dag__cluster=cluster).count()


@pytest.mark.django_db(transaction=True)
def test_recording_executions_costs_little_per_sub_task(settings):
    settings.SIMULATION_SPEED = 0
    cluster = make_cluster(zones=3, servers_per_zone=10)
    stock_packages(TARGET)

    settings.SIMULATION_RECORD_EXECUTIONS = False
    without, sub_tasks = timed_upgrades(cluster, ROUNDS)
    settings.SIMULATION_RECORD_EXECUTIONS = True
    with_records, _ = timed_upgrades(cluster, ROUNDS)
    assert ExecutionRecord.objects.filter(sub_task__dag__cluster=cluster).count() == sub_tasks

    extra_ms = (with_records - without) / sub_tasks * 1000
    print(
        f"\nzero-duration upgrade of 3 zones x 10 servers ({sub_tasks} sub-tasks, one in-process runner, "
        f"{connection.vendor}), best of {ROUNDS}: {with_records:.3f}s recording executions, {without:.3f}s without; "
        f"ratio {with_records / without:.2f}x, {extra_ms:+.2f} ms per sub-task"
    )
