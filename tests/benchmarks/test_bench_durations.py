"""Benchmark (make bench): usual step durations with 20,000 finished runs (600,000 stages) on the configured
database (PostgreSQL is the case that matters: DATABASE_URL=postgres://...).

* A read of the summary (usual_durations_for_dag: a 30-stage run's usual durations, two queries) against the
  alternative the summary replaces, measured in the same run: reading one action's finished samples per read.
* The refresh (refresh_step_durations, the 5-minute periodic job) against a plain count of the finished
  stages (one scan of the table).

Figures are printed (ms and ratios); nothing here asserts on timing.
"""

import statistics
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tests.support.factories import make_cluster
from upgrades.models import Dag, Node
from upgrades.models.dag import State
from upgrades.operations.durations import refresh_step_durations, usual_durations_for_dag

RUNS = 20_000
STAGES = 30
ACTIONS = [f"action_{i}" for i in range(STAGES)]
SIZES = (3, 9, 30, 300)


def _fill(cluster):
    """RUNS finished DAGs (bulk_create) with STAGES succeeded nodes each (one INSERT ... SELECT on PostgreSQL)."""
    now = timezone.now()
    Dag.objects.bulk_create(
        [
            Dag(
                cluster=cluster,
                name="bench",
                max_stage=STAGES,
                version="4.3.0.1",
                release="1",
                from_version="4.2.1.0",
                to_version="4.3.0.1",
                state=State.SUCCEED,
                is_finished=True,
                server_count=SIZES[i % len(SIZES)],
            )
            for i in range(RUNS)
        ],
        batch_size=2000,
    )
    dag_ids = list(Dag.objects.filter(name="bench").order_by("id").values_list("id", flat=True))
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"""INSERT INTO {Node._meta.db_table} (dag_id, seq, name, action, parallel, zone_name, state, operator,
                    start_time, end_time, can_retry, can_rollback, can_pass, can_cancel, can_continue)
                SELECT d.id, s, 'action_' || (s - 1), 'action_' || (s - 1), false, '', 'SUCCEED', 'RUN',
                    %s - (d.id || ' minutes')::interval - ((10 + s + d.id %% 17) || ' seconds')::interval,
                    %s - (d.id || ' minutes')::interval, true, false, false, false, false
                FROM {Dag._meta.db_table} d CROSS JOIN generate_series(1, %s) s WHERE d.name = 'bench'""",
                [now, now, STAGES],
            )
        return
    nodes = []
    for n, dag_id in enumerate(dag_ids):
        end = now - timedelta(minutes=n)
        for seq, action in enumerate(ACTIONS, start=1):
            seconds = 10 + seq + (n % 17)
            nodes.append(
                Node(
                    dag_id=dag_id,
                    seq=seq,
                    name=action,
                    action=action,
                    parallel=False,
                    state=State.SUCCEED,
                    start_time=end - timedelta(seconds=seconds),
                    end_time=end,
                )
            )
        if len(nodes) >= 30_000:
            Node.objects.bulk_create(nodes)
            nodes = []
    Node.objects.bulk_create(nodes)


def _ms(call, rounds):
    samples = []
    for _ in range(rounds):
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


@pytest.mark.django_db
def test_usual_durations_with_20000_runs():
    cluster = make_cluster()
    began = time.perf_counter()
    _fill(cluster)
    print(f"\nfilled {RUNS} runs x {STAGES} stages in {time.perf_counter() - began:.1f} s ({connection.vendor})")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE") if connection.vendor == "postgresql" else None

    refresh = _ms(refresh_step_durations, 3)
    scan = _ms(lambda: Node.objects.filter(dag__is_finished=True, state=State.SUCCEED).count(), 3)
    dag_id = Dag.objects.filter(name="bench").order_by("id").values_list("id", flat=True).first()
    read = _ms(lambda: usual_durations_for_dag(dag_id), 50)

    aggregate = _ms(
        lambda: list(
            Node.objects.filter(action=ACTIONS[0], dag__server_count__gte=1)
            .filter(dag__is_finished=True, state=State.SUCCEED)
            .values_list("start_time", "end_time")
        ),
        3,
    )
    print(f"summary read, one run's 30 stages:          {read:8.2f} ms")
    print(
        f"one action's samples per read (no summary): {aggregate:8.2f} ms  ({aggregate / read:6.1f} x the summary read)"
    )
    print(f"refresh (every 5 minutes):                  {refresh:8.2f} ms  ({refresh / scan:6.1f} x one count(*) scan)")
    print(f"count(*) of finished stages:                {scan:8.2f} ms")
