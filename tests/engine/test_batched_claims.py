"""A worker whose steps take no time claims a parallel node's READY sub-tasks together, finishes them in one
transaction and advances the node once; a batch never holds sub-tasks it does not run (a faulted one is
claimed alone, the unstarted rest is handed back) and no other worker can claim what it holds."""

from collections import Counter
from unittest import mock

import pytest

from tests.engine.helpers import assert_gapless_events, step_until
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from upgrades.backends.faults import fault_inject
from upgrades.engine import executor
from upgrades.engine import transitions as t
from upgrades.engine.heartbeat import WorkerGroup
from upgrades.engine.runner import run_dag_to_end
from upgrades.engine.worker import Worker
from upgrades.models import DagEvent, SubTask
from upgrades.models.dag import State

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def parallel_node_ready(settings):
    """A DAG stopped where a node with several sub-tasks has made them READY (3 zones x 4 servers)."""
    settings.SIMULATION_SPEED = 0
    cluster = make_cluster(zones=3, servers_per_zone=4)
    stock_packages(TARGET)
    dag = start_upgrade(cluster, TARGET)

    def several_ready(dag):
        return SubTask.objects.filter(dag=dag, state=State.READY).count() >= 4

    return cluster, step_until(dag, several_ready)


def ready_ids(dag):
    return list(SubTask.objects.filter(dag=dag, state=State.READY).order_by("id").values_list("id", flat=True))


def test_a_batch_claims_one_nodes_ready_sub_tasks_and_nobody_else_gets_them(parallel_node_ready):
    _, dag = parallel_node_ready
    ready = ready_ids(dag)
    batch = t.subtask_claim(owner="w1", dag_ids=[dag.pk], limit=len(ready) + 5)
    assert [s.pk for s in batch] == ready
    assert len({s.node_id for s in batch}) == 1
    assert set(SubTask.objects.filter(pk__in=ready).values_list("state", "lease_owner")) == {(State.RUNNING, "w1")}
    assert t.subtask_claim(owner="w2", dag_ids=[dag.pk], limit=25) == []
    assert_gapless_events(dag)


def test_a_faulted_sub_task_is_never_batched(parallel_node_ready):
    cluster, dag = parallel_node_ready
    ready = ready_ids(dag)
    # The fault is taken when a node starts; mark one READY sub-task as carrying it, as _start_node does.
    SubTask.objects.filter(pk=ready[1]).update(context={"fault": {"kind": "hang"}})
    first = t.subtask_claim(owner="w1", dag_ids=[dag.pk], limit=25)
    assert ready[1] not in [s.pk for s in first]
    assert [s.pk for s in t.subtask_claim(owner="w2", dag_ids=[dag.pk], limit=25)] == [ready[1]]


def test_a_batch_that_runs_too_long_writes_what_is_done_and_hands_back_the_rest(parallel_node_ready):
    _, dag = parallel_node_ready
    ready = ready_ids(dag)
    worker = Worker(name="w", dag_ids=[dag.pk], group=WorkerGroup(kind="process"))
    batch = t.subtask_claim(owner=worker.owner, dag_ids=[dag.pk], limit=len(ready))
    assert len(batch) == len(ready)
    with mock.patch.object(executor, "BATCH_MAX_SECONDS", 0):
        following = executor.execute_batch(worker, batch)
    assert following == []
    states = dict(SubTask.objects.filter(pk__in=ready).values_list("id", "state"))
    assert states[ready[0]] == State.SUCCEED
    assert {states[pk] for pk in ready[1:]} == {State.READY}
    assert not SubTask.objects.filter(pk__in=ready[1:]).exclude(lease_owner="").exists()
    assert_gapless_events(dag)
    # Handed back, they run as usual.
    assert run_dag_to_end(dag.pk).state == State.SUCCEED


def test_a_zero_duration_upgrade_in_batches_runs_every_sub_task_once(settings):
    settings.SIMULATION_SPEED = 0
    cluster = make_cluster(zones=3, servers_per_zone=6)
    stock_packages(TARGET)
    fault_inject(cluster=cluster, node_name="Stop zone2", kind="fail", times=1)
    dag = start_upgrade(cluster, TARGET)
    transactions = []
    original = executor.finish_batch

    def counting(worker, outcomes, **kw):
        transactions.append(len(outcomes))
        return original(worker, outcomes, **kw)

    with mock.patch.object(executor, "finish_batch", counting):
        assert run_dag_to_end(dag.pk).state == State.FAILED
    # Every sub-task that ran was claimed once and finished once (no hand-back, no second run).
    runs, ends = Counter(), Counter()
    for payload in DagEvent.objects.filter(dag=dag, kind=DagEvent.Kind.SUBTASK_UPDATED).values_list(
        "payload", flat=True
    ):
        state = payload["sub_task"]["state"]
        if state == State.RUNNING:
            runs[payload["sub_task"]["id"]] += 1
        elif state in (State.SUCCEED, State.FAILED):
            ends[payload["sub_task"]["id"]] += 1
    assert set(runs.values()) == {1} and set(ends.values()) == {1} and runs.keys() == ends.keys()
    assert max(transactions) > 1  # some finished together
    assert sum(transactions) == SubTask.objects.filter(dag=dag, state__in=[State.SUCCEED, State.FAILED]).count()
    assert_gapless_events(dag)
