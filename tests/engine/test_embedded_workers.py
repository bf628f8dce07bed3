"""The embedded profile: worker threads inside the server process run upgrades; an injected crash stops only
that thread (its lease is abandoned and reaped), a replacement thread carries on, the process lives."""

import pytest

from tests.engine.helpers import add_target_packages, assert_gapless_events, start, wait_until
from tests.factories import make_cluster
from upgrades.backends.faults import fault_inject
from upgrades.engine import embedded
from upgrades.models import Dag, Server, SubTask
from upgrades.models.dag import State


@pytest.fixture
def embedded_workers(settings):
    settings.EMBEDDED_WORKER = True
    settings.EMBEDDED_WORKER_THREADS = 2
    settings.WORKER_LEASE_SECONDS = 1
    yield embedded
    embedded.stop_embedded_workers()


@pytest.mark.django_db(transaction=True)
def test_workers_start_with_the_first_request_and_only_when_enabled(settings, client):
    settings.EMBEDDED_WORKER = False
    assert embedded.start_embedded_workers() == []
    settings.EMBEDDED_WORKER = True
    settings.EMBEDDED_WORKER_THREADS = 1
    try:
        assert embedded.start_embedded_workers() == []  # armed, nothing running yet
        assert embedded._threads == []
        client.get("/")
        assert len(embedded._threads) == 1 and embedded._threads[0].is_alive()
    finally:
        embedded.stop_embedded_workers()


@pytest.mark.django_db(transaction=True)
def test_embedded_threads_survive_an_injected_crash(embedded_workers):
    cluster = make_cluster()
    add_target_packages()
    fault_inject(cluster=cluster, node_name="Stop zone3", kind="crash")
    threads = embedded_workers.run_embedded_workers()
    assert len(threads) == 2 and embedded_workers.run_embedded_workers() == threads
    dag = start(cluster)

    wait_until(lambda: Dag.objects.get(pk=dag.pk).state in (State.SUCCEED, State.FAILED), timeout=60, what="the DAG")

    dag.refresh_from_db()
    assert dag.state == State.SUCCEED
    stop = SubTask.objects.get(dag=dag, name="Stop zone3")
    assert stop.execute_times == 1
    assert any("stopped while running; continuing" in log.line for log in stop.logs.all())
    assert set(Server.objects.filter(cluster=cluster).values_list("build_version", flat=True)) == {
        "4.3.0.1_101000062023110109"
    }
    assert sum(thread.is_alive() for thread in embedded_workers._threads) == 2
    assert_gapless_events(dag)
