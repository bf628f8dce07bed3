"""A database that stops answering for a moment (connections cut, the server restarting) pauses the engine
instead of failing steps: a running step's heartbeat, effects and finish retry until it answers, the worker
loop backs off and resets its connections, and the first worker through holds the lease reaper back a full
lease. The real-process version, on a private PostgreSQL, is tests/operations/faults/test_postgres_outage.py."""

from datetime import timedelta

import pytest
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from tests.engine.helpers import BackgroundWorker, assert_gapless_events
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from tests.support.waiting import wait_until
from upgrades import events
from upgrades.engine import executor, periodic, resilience, worker
from upgrades.engine import transitions as t
from upgrades.engine.runner import run_dag_to_end
from upgrades.models import Dag, DagEvent, PeriodicJobLease, SubTask, TaskLog


class Flaky:
    """Wraps a function: its first `failures` calls raise `error` (before doing anything), then it works."""

    def __init__(self, function, failures, error=OperationalError):
        self.function, self.failures, self.error, self.calls = function, failures, error, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error("server closed the connection unexpectedly")
        return self.function(*args, **kwargs)


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch, settings):
    settings.WORKER_LEASE_SECONDS = 3
    monkeypatch.setattr(resilience, "BACKOFF_MIN", 0.01)


def no_step_failed(dag):
    assert not SubTask.objects.filter(dag=dag).exclude(state="SUCCEED").exists()
    assert set(SubTask.objects.filter(dag=dag).values_list("execute_times", flat=True)) == {1}
    assert not TaskLog.objects.filter(sub_task__dag=dag, level="ERROR").exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("error", [OperationalError, InterfaceError])
def test_a_step_whose_heartbeat_and_finish_meet_a_dead_connection_waits_and_succeeds(monkeypatch, settings, error):
    # Steps that take a little time heartbeat (a zero-duration step writes only at its end, with its batch).
    settings.SIMULATION_SPEED = 100
    stock_packages(TARGET)
    dag = start_upgrade(make_cluster(), TARGET)
    heartbeat = Flaky(t.subtask_heartbeat, 3, error)
    finish = Flaky(executor.finish_batch, 2, error)
    monkeypatch.setattr(t, "subtask_heartbeat", heartbeat)
    monkeypatch.setattr(executor, "finish_batch", finish)

    before = timezone.now()
    assert run_dag_to_end(dag.pk, timeout=60).state == "SUCCEED"

    assert heartbeat.calls > 3 and finish.calls > 2
    no_step_failed(dag)
    assert_gapless_events(dag)
    # Getting through after the errors held the reaper back a full lease from then.
    reaper = PeriodicJobLease.objects.get(name=resilience.REAPER_JOB)
    assert reaper.next_run_at >= before + timedelta(seconds=3)


@pytest.mark.django_db(transaction=True)
def test_the_worker_loop_backs_off_and_resumes_and_defers_the_reaper_first(monkeypatch):
    stock_packages(TARGET)
    dag = start_upgrade(make_cluster(), TARGET)
    order = []
    advance = Flaky(worker.advance_active_dags, 4)

    def flaky_advance(*args, **kwargs):
        failing = advance.calls < advance.failures
        try:
            return advance(*args, **kwargs)
        finally:
            if failing:
                order.append("fail")

    monkeypatch.setattr(worker, "advance_active_dags", flaky_advance)
    real_defer = periodic.defer
    real_run_due = periodic.run_due
    monkeypatch.setattr(periodic, "defer", lambda *a: (order.append("defer"), real_defer(*a))[1])
    monkeypatch.setattr(periodic, "run_due", lambda **kw: (order.append("run_due"), real_run_due(**kw))[1])

    with BackgroundWorker(dag_ids=[dag.pk]):
        wait_until(lambda: Dag.objects.get(pk=dag.pk).state == "SUCCEED", timeout=60, what="the run to succeed")

    assert advance.calls > 4
    # The periodic jobs ran before the outage; after each failure the reaper was deferred before any job ran.
    assert "run_due" in order[: order.index("fail")]
    for at, entry in enumerate(order):
        if entry == "fail":
            following = [e for e in order[at + 1 :] if e != "fail"]
            assert following[:1] == ["defer"], order
    no_step_failed(dag)


@pytest.mark.django_db(transaction=True)
def test_a_database_error_inside_a_step_reruns_it_when_it_applied_nothing(monkeypatch):
    stock_packages(TARGET)
    dag = start_upgrade(make_cluster(), TARGET)
    real_run = executor.backend_for(dag.cluster).__class__.run
    failures = {"left": 2}

    def run(self, ctx):
        if ctx.node.name == "Stop zone1" and failures["left"]:
            failures["left"] -= 1
            raise OperationalError("terminating connection due to administrator command")
        return real_run(self, ctx)

    monkeypatch.setattr(executor.backend_for(dag.cluster).__class__, "run", run)
    assert run_dag_to_end(dag.pk, timeout=60).state == "SUCCEED"
    assert failures["left"] == 0
    no_step_failed(dag)


@pytest.mark.django_db(transaction=True)
def test_a_push_that_fails_after_commit_does_not_fail_the_committer(monkeypatch):
    stock_packages(TARGET)

    def broken(message):
        raise OperationalError("the publisher's own read failed")

    monkeypatch.setattr(events, "_publisher", broken)
    dag = start_upgrade(make_cluster(), TARGET)  # commits, then the push fails
    assert DagEvent.objects.filter(dag=dag).exists()


@pytest.mark.django_db
def test_defer_moves_a_job_later_never_earlier():
    periodic.defer("some-job", 10)  # no row yet: made, not due for 10 s
    row = PeriodicJobLease.objects.get(name="some-job")
    assert row.next_run_at > timezone.now() + timedelta(seconds=9)
    later = timezone.now() + timedelta(seconds=60)
    PeriodicJobLease.objects.filter(name="some-job").update(next_run_at=later)
    periodic.defer("some-job", 10)
    assert PeriodicJobLease.objects.get(name="some-job").next_run_at == later
