"""Ten simultaneous starts on one cluster create exactly one DAG: the database's partial unique index on
Dag.holds_lock decides, and every loser gets obshell's 500 OB.Cluster.UnderMaintenanceWithDag."""

import threading

import pytest
from django.db import connections

from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from upgrades.errors import ObshellError
from upgrades.models import AuditEntry, Dag, Node

STARTERS = 10


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_ten_concurrent_starts_make_one_dag():
    cluster = make_cluster()
    stock_packages(TARGET)
    barrier = threading.Barrier(STARTERS)
    results = [None] * STARTERS

    def starter(index):
        try:
            barrier.wait(timeout=30)
            results[index] = start_upgrade(cluster, TARGET, reason=f"starter {index}")
        except ObshellError as exc:
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=starter, args=(i,)) for i in range(STARTERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    dags = [r for r in results if isinstance(r, Dag)]
    errors = [r for r in results if isinstance(r, ObshellError)]
    assert len(dags) == 1 and len(errors) == STARTERS - 1
    winner = dags[0]
    assert {(e.err_code, e.status) for e in errors} == {("OB.Cluster.UnderMaintenanceWithDag", 500)}
    assert all(f"under maintenance by DAG: {winner.name}" in e.message for e in errors)
    assert Dag.objects.filter(cluster=cluster).count() == 1
    assert Node.objects.filter(dag__cluster=cluster).count() == winner.max_stage
    assert AuditEntry.objects.filter(cluster=cluster, action="upgrade.start", outcome="refused").count() == STARTERS - 1
