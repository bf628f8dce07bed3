"""The simulated backend records every execution of a step (ExecutionRecord): where and when it ran, and how it
ended; a killed worker's record stays open, and the re-entered attempt gets a record of its own."""

import os
import signal
import socket
from unittest import mock

import pytest
from django.db import OperationalError

from tests.engine.helpers import failed_run, spawn_run_worker
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from tests.support.waiting import wait_until
from upgrades.audit import Actor
from upgrades.backends.faults import fault_inject
from upgrades.backends.simulated import executions
from upgrades.engine.runner import run_dag_to_end
from upgrades.models import ExecutionRecord, SubTask
from upgrades.models.dag import State
from upgrades.services.dag_operators import dag_operate


@pytest.mark.django_db(transaction=True)
def test_every_sub_task_of_a_clean_run_has_one_closed_record():
    cluster = make_cluster()
    stock_packages(TARGET)
    dag = run_dag_to_end(start_upgrade(cluster, TARGET).pk)
    assert dag.state == State.SUCCEED

    sub_tasks = SubTask.objects.filter(dag=dag)
    records = ExecutionRecord.objects.filter(sub_task__dag=dag)
    assert records.count() == sub_tasks.count()
    for record in records:
        assert (record.attempt, record.phase, record.outcome) == (1, "run", "ok")
        assert (record.host, record.pid) == (socket.gethostname()[:64], os.getpid())
        assert record.owner and record.started_at <= record.ended_at
        assert record.sub_task.start_time <= record.started_at <= record.ended_at <= record.sub_task.end_time


@pytest.mark.django_db(transaction=True)
def test_a_failed_attempt_and_its_retry_are_recorded_with_their_rollback():
    cluster = make_cluster()
    stock_packages(TARGET)
    dag = failed_run(cluster, TARGET, "Install new obshell")
    failed = SubTask.objects.filter(dag=dag, name="Install new obshell").first()
    assert list(failed.executions.values_list("attempt", "phase", "outcome")) == [(1, "run", "failed")]

    dag_operate(dag=dag, operator="retry", actor=Actor.system("test"), reason="disk cleaned")
    assert run_dag_to_end(dag.pk).state == State.SUCCEED
    assert list(failed.executions.values_list("attempt", "phase", "outcome")) == [
        (1, "run", "failed"),
        (2, "rollback", "ok"),
        (2, "run", "ok"),
    ]


@pytest.mark.django_db(transaction=True)
def test_a_killed_workers_record_stays_open_and_the_continued_attempt_has_its_own():
    cluster = make_cluster()
    stock_packages(TARGET)
    fault_inject(cluster=cluster, node_name="Stop zone2", kind="hang")
    dag = start_upgrade(cluster, TARGET)
    child = spawn_run_worker(lease_seconds=1)
    try:
        hanging = wait_until(
            lambda: (
                SubTask.objects.filter(dag=dag, name="Stop zone2", state=State.RUNNING).exclude(lease_owner="").first()
            ),
            timeout=60,
            what="the child worker to run Stop zone2",
        )
        wait_until(lambda: hanging.logs.filter(level="WARN").exists(), what="the hang")
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert run_dag_to_end(dag.pk, timeout=60).state == State.SUCCEED

    killed, continued = hanging.executions.order_by("started_at")
    assert (killed.pid, killed.ended_at, killed.outcome) == (child.pid, None, "")
    assert (continued.pid, continued.attempt, continued.outcome) == (os.getpid(), killed.attempt, "ok")
    assert continued.started_at > killed.started_at


@pytest.mark.django_db(transaction=True)
def test_an_end_the_database_refused_is_written_before_the_next_execution(settings):
    cluster = make_cluster()
    stock_packages(TARGET)
    real_update = type(ExecutionRecord.objects.all()).update
    refused = []

    def update_once_refused(queryset, **fields):
        if "ended_at" in fields and not refused:
            refused.append(fields["ended_at"])
            raise OperationalError("the connection is closed")
        return real_update(queryset, **fields)

    with mock.patch.object(type(ExecutionRecord.objects.all()), "update", update_once_refused):
        dag = run_dag_to_end(start_upgrade(cluster, TARGET).pk)
    assert dag.state == State.SUCCEED
    first = ExecutionRecord.objects.filter(sub_task__dag=dag).order_by("started_at", "id").first()
    assert (first.ended_at, first.outcome) == (refused[0], "ok")
    assert not executions._unwritten
    assert not ExecutionRecord.objects.filter(ended_at=None).exists()


@pytest.mark.django_db(transaction=True)
def test_recording_can_be_turned_off(settings):
    settings.SIMULATION_RECORD_EXECUTIONS = False
    cluster = make_cluster()
    stock_packages(TARGET)
    assert run_dag_to_end(start_upgrade(cluster, TARGET).pk).state == State.SUCCEED
    assert not ExecutionRecord.objects.exists()
