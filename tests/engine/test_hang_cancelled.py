"""A hanging step is stopped by CANCEL: its sub-tasks fail with `sub task cancelled` and the executor,
told to stop, writes nothing more."""

import pytest

from tests.engine.helpers import BackgroundWorker, assert_gapless_events
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from tests.support.waiting import wait_until
from upgrades.audit import Actor
from upgrades.backends.faults import fault_inject
from upgrades.models import SubTask, TaskLog
from upgrades.models.dag import State
from upgrades.services.dag_operators import dag_operate


@pytest.mark.django_db(transaction=True)
def test_cancel_stops_a_hanging_step():
    cluster = make_cluster()
    stock_packages(TARGET)
    fault_inject(cluster=cluster, node_name="Download all required packages", kind="hang")
    dag = start_upgrade(cluster, TARGET)
    with BackgroundWorker(dag_ids=[dag.pk]) as worker:
        hanging = wait_until(
            lambda: SubTask.objects.filter(dag=dag, name="Download all required packages", state=State.RUNNING).first(),
            what="the download step to run",
        )
        wait_until(lambda: hanging.logs.filter(level="WARN").exists(), what="the hang to start")
        assert hanging.lease_owner == worker.owner
        dag = dag_operate(dag=dag, operator="cancel", actor=Actor.system("test"), reason="stuck download")
        assert (dag.state, dag.operator) == (State.FAILED, "CANCEL")
        # The executor notices, stops, and leaves the cancellation as it is.
        wait_until(lambda: not worker.stopping and _idle(worker), what="the worker to drop the step")
    hanging.refresh_from_db()
    # obshell's SetSubTaskFailed keeps the sub-task's operator (the node carries CANCEL).
    assert (hanging.state, hanging.operator, hanging.lease_owner) == (State.FAILED, "RUN", "")
    assert hanging.logs.order_by("id").last().line == "sub task cancelled"
    node = dag.nodes.get(seq=3)
    assert (node.state, node.operator) == (State.FAILED, "CANCEL")
    # Its siblings were still READY (one worker runs one step at a time): cancelled too, never started.
    siblings = node.sub_tasks.exclude(pk=hanging.pk)
    assert set(siblings.values_list("state", "operator")) == {(State.FAILED, "RUN")}
    assert {s.logs.get().line for s in siblings} == {"sub task cancelled"}
    # Nothing was written after the cancellation but the cancellation itself.
    warn = hanging.logs.get(level="WARN")
    assert set(TaskLog.objects.filter(sub_task__dag=dag, id__gt=warn.id).values_list("text", flat=True)) == {
        "sub task cancelled"
    }
    assert_gapless_events(dag)


def _idle(worker):
    return not SubTask.objects.filter(lease_owner=worker.owner).exists()
