"""Periodic jobs: a registry other parts use, run by the workers, one runner per job per interval through a
PeriodicJobLease claimed with a conditional UPDATE; the lease reaper is one of them."""

import threading
from datetime import timedelta

import pytest
from django.db import connections
from django.utils import timezone
from prometheus_client import REGISTRY

from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from upgrades.engine import periodic
from upgrades.engine.worker import Worker
from upgrades.models import PeriodicJobLease, SubTask
from upgrades.models.dag import State


@pytest.fixture
def job():
    calls = []
    lock = threading.Lock()

    def count():
        with lock:
            calls.append(threading.current_thread().name)
        return True

    registered = periodic.register("test-counting-job", 3600, count)
    yield registered, calls
    periodic.unregister(registered.name)


def test_register_validates_and_replaces():
    with pytest.raises(ValueError):
        periodic.register("", 1, lambda: None)
    with pytest.raises(ValueError):
        periodic.register("x", 0, lambda: None)
    try:
        periodic.register("test-replaced", 5, lambda: 1)
        periodic.register("test-replaced", 7, lambda: 2)
        [job] = [j for j in periodic.registered() if j.name == "test-replaced"]
        assert job.interval_seconds == 7 and job.function() == 2
    finally:
        periodic.unregister("test-replaced")
    names = {j.name for j in periodic.registered()}
    assert {"reap-expired-leases", "forget-stale-workers"} <= names


def _two_runners_one_run(job):
    registered, calls = job
    start = threading.Barrier(2)

    def runner(name):
        try:
            start.wait()
            for _ in range(20):
                periodic.run_due(owner=f"runner-{name}", names={registered.name})
        finally:
            connections.close_all()

    threads = [threading.Thread(target=runner, args=(n,), name=f"runner-{n}") for n in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return calls


def _next_interval(name):
    PeriodicJobLease.objects.filter(name=name).update(next_run_at=timezone.now() - timedelta(seconds=1))


@pytest.mark.django_db(transaction=True)
def test_two_runners_run_a_job_once_per_interval(job):
    registered, calls = job
    assert len(_two_runners_one_run(job)) == 1
    row = PeriodicJobLease.objects.get(name=registered.name)
    assert (row.runs, row.holder, row.lease_expires_at, row.last_error) == (1, "", None, "")
    assert row.next_run_at > timezone.now() + timedelta(seconds=3000)
    _next_interval(registered.name)
    assert len(_two_runners_one_run(job)) == 2
    assert PeriodicJobLease.objects.get(name=registered.name).runs == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runners_run_a_job_once_per_interval_on_postgresql(job):
    registered, calls = job
    assert len(_two_runners_one_run(job)) == 1
    _next_interval(registered.name)
    assert len(_two_runners_one_run(job)) == 2


@pytest.mark.django_db
def test_a_live_lease_blocks_and_an_expired_one_does_not(job):
    registered, calls = job
    now = timezone.now()
    PeriodicJobLease.objects.create(
        name=registered.name, holder="busy", lease_expires_at=now + timedelta(minutes=5), next_run_at=now
    )
    assert periodic.run_due(owner="me", names={registered.name}) == {}
    # Its runner died: once the lease expires the job is someone else's.
    PeriodicJobLease.objects.filter(name=registered.name).update(lease_expires_at=now - timedelta(seconds=1))
    assert periodic.run_due(owner="me", names={registered.name}) == {registered.name: True}
    assert len(calls) == 1


@pytest.mark.django_db
def test_a_failing_job_is_recorded_and_released():
    def boom():
        raise RuntimeError("no topology today")

    periodic.register("test-failing-job", 60, boom)
    try:
        assert periodic.run_due(owner="me", names={"test-failing-job"}) == {"test-failing-job": None}
    finally:
        periodic.unregister("test-failing-job")
    row = PeriodicJobLease.objects.get(name="test-failing-job")
    assert row.last_error == "RuntimeError: no topology today"
    assert (row.holder, row.lease_expires_at, row.runs) == ("", None, 1)


@pytest.mark.django_db
def test_the_worker_loop_runs_due_jobs_and_the_reaper_is_one(job):
    registered, calls = job
    cluster = make_cluster()
    stock_packages(TARGET)
    dag = start_upgrade(cluster, TARGET)
    sub_task = SubTask.objects.filter(dag=dag).order_by("id").first()
    SubTask.objects.filter(pk=sub_task.pk).update(
        state=State.RUNNING, lease_owner="gone:1:dead0000:w0:00000000", lease_expires_at=timezone.now() - timedelta(1)
    )
    reaped_before = REGISTRY.get_sample_value("obdash_leases_reaped_total")
    worker = Worker(name="periodic", dag_ids=[])  # claims nothing: only the periodic jobs can touch the DAG
    worker.step()
    assert calls == [threading.current_thread().name]
    sub_task.refresh_from_db()
    assert sub_task.lease_owner == "" and sub_task.state != State.RUNNING
    assert REGISTRY.get_sample_value("obdash_leases_reaped_total") == reaped_before + 1
    assert PeriodicJobLease.objects.get(name="reap-expired-leases").runs == 1
