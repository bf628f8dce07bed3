"""The upgrade's Backup parameters / Restore parameters steps on a simulated cluster: upgrade_pre.py changes the
three parameters while observers restart, Restore parameters puts back what this hop's backup read."""

import pytest

from tests.engine.helpers import failed_run
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from upgrades.audit import Actor
from upgrades.backends.simulated.parameters import DURING_UPGRADE, parameter_rows
from upgrades.engine.runner import run_dag_to_end
from upgrades.models import Server
from upgrades.models.dag import State
from upgrades.services.dag_operators import dag_operate


def values(cluster):
    return {(row["SvrIp"], row["Name"]): row["Value"] for row in parameter_rows(cluster.pk)}


@pytest.mark.django_db
def test_an_upgrade_restores_the_values_its_backup_read():
    cluster = make_cluster(zones=3)
    stock_packages(TARGET)
    tuned = cluster.servers.order_by("id").first()
    Server.objects.filter(pk=tuned.pk).update(parameters={"server_permanent_offline_time": "7200s"})
    before = values(cluster)
    dag = run_dag_to_end(start_upgrade(cluster, TARGET).pk)
    assert dag.state == State.SUCCEED
    assert values(cluster) == before
    restore = dag.nodes.get(name="Restore parameters").sub_tasks.get()
    lines = [log.line for log in restore.logs.order_by("id")]
    assert f"ALTER SYSTEM SET server_permanent_offline_time = '7200s' SERVER = '{tuned.ip}:{tuned.rpc_port}'" in lines
    assert sum(line.startswith("restore param: enable_rebalance on ") for line in lines) == 3


@pytest.mark.django_db
def test_a_failed_restore_leaves_the_upgrade_values_until_it_is_retried():
    cluster = make_cluster(zones=3)
    stock_packages(TARGET)
    before = values(cluster)
    dag = failed_run(cluster, TARGET, "Restore parameters")
    assert set(values(cluster).values()) == set(DURING_UPGRADE.values())
    dag = dag_operate(dag=dag, operator="retry", actor=Actor.system("test"), reason="retry the restore")
    assert run_dag_to_end(dag.pk).state == State.SUCCEED
    assert values(cluster) == before
