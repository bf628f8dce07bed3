"""The embedded profile: worker threads inside the server process run upgrades; an injected crash stops only
that thread (its lease is abandoned and reaped), a replacement thread carries on, the process lives."""

import asyncio

import pytest

from tests.engine.helpers import assert_gapless_events
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from tests.support.waiting import wait_until
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


async def _serve_one(app, scope_type):
    async def receive():
        return {"type": "websocket.disconnect"} if scope_type == "websocket" else {"type": "http.disconnect"}

    async def send(message):
        pass

    await app({"type": scope_type, "path": "/"}, receive, send)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("scope_type", ["http", "websocket"])
def test_workers_start_with_the_first_connection_and_only_when_enabled(settings, scope_type):
    """A restarted server resumes runs as soon as anything connects, a reconnecting browser's socket included."""
    served = []

    async def app(scope, receive, send):
        served.append(scope["type"])

    settings.EMBEDDED_WORKER = False
    asyncio.run(_serve_one(embedded.with_embedded_workers(app), scope_type))
    assert embedded._threads == [] and served == [scope_type]

    settings.EMBEDDED_WORKER = True
    settings.EMBEDDED_WORKER_THREADS = 1
    wrapped = embedded.with_embedded_workers(app)
    try:
        assert embedded._threads == []  # armed, nothing running until a connection arrives
        asyncio.run(_serve_one(wrapped, scope_type))
        assert len(embedded._threads) == 1 and embedded._threads[0].is_alive()
        assert served == [scope_type, scope_type]
    finally:
        embedded.stop_embedded_workers()


@pytest.mark.django_db(transaction=True)
def test_embedded_threads_survive_an_injected_crash(embedded_workers):
    cluster = make_cluster()
    stock_packages(TARGET)
    fault_inject(cluster=cluster, node_name="Stop zone3", kind="crash")
    threads = embedded_workers.run_embedded_workers()
    assert len(threads) == 2 and embedded_workers.run_embedded_workers() == threads
    dag = start_upgrade(cluster, TARGET)

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
