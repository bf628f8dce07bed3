"""A sub-task that outlives the DAG's timeout fails with `sub task timeout`."""

import pytest

from tests.engine.helpers import assert_gapless_events
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from upgrades.audit import Actor
from upgrades.backends.faults import fault_inject
from upgrades.engine.runner import run_dag_to_end
from upgrades.models import Dag, Server
from upgrades.models.dag import State
from upgrades.services.dag_operators import dag_operate


@pytest.mark.django_db
def test_a_hanging_sub_task_times_out_and_can_be_retried():
    cluster = make_cluster()
    stock_packages(TARGET)
    server = Server.objects.filter(cluster=cluster).order_by("id").last()
    fault_inject(cluster=cluster, node_name="Check the python environment", server=server.agent_address, kind="hang")
    dag = start_upgrade(cluster, TARGET)
    assert dag.timeout_seconds == 3600
    Dag.objects.filter(pk=dag.pk).update(timeout_seconds=1)

    dag = run_dag_to_end(dag.pk, timeout=30)

    assert (dag.state, dag.stage) == (State.FAILED, 1)
    timed_out = dag.nodes.get(seq=1).sub_tasks.get(state=State.FAILED)
    assert timed_out.server_id == server.pk
    assert timed_out.logs.order_by("id").last().line == "sub task timeout"
    assert dag.nodes.get(seq=1).sub_tasks.filter(state=State.SUCCEED).count() == 2

    dag_operate(dag=dag, operator="retry", actor=Actor.system("test"), reason="python fixed")
    assert run_dag_to_end(dag.pk).state == State.SUCCEED
    assert_gapless_events(dag)
