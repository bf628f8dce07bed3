"""Several workers on one DAG share the work through leases: every sub-task runs exactly once."""

import pytest

from tests.engine.helpers import BackgroundWorker, assert_gapless_events
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from tests.support.waiting import wait_until
from upgrades.models import Dag, SubTask, TaskLog
from upgrades.models.dag import State


@pytest.mark.django_db(transaction=True)
def test_four_workers_run_every_sub_task_once(settings):
    settings.SIMULATION_SPEED = 400  # real (short) sleeps, heartbeats and overlapping parallel sub-tasks
    cluster = make_cluster(zones=3, servers_per_zone=3)
    stock_packages(TARGET)
    dag = start_upgrade(cluster, TARGET)
    with BackgroundWorker(name="a"), BackgroundWorker(name="b"), BackgroundWorker(name="c"), BackgroundWorker(name="d"):
        wait_until(
            lambda: Dag.objects.get(pk=dag.pk).state in (State.SUCCEED, State.FAILED), timeout=120, what="the DAG"
        )
    dag.refresh_from_db()
    assert dag.state == State.SUCCEED
    assert set(SubTask.objects.filter(dag=dag).values_list("state", "execute_times")) == {(State.SUCCEED, 1)}
    # A sub-task run twice would have logged its step twice.
    for sub_task in SubTask.objects.filter(dag=dag):
        texts = list(TaskLog.objects.filter(sub_task=sub_task).values_list("text", flat=True))
        assert len(texts) == len(set(texts)), (sub_task.name, texts)
    assert_gapless_events(dag)
