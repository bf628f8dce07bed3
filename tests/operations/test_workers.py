"""The worker registry: worker groups heartbeat a WorkerHeartbeat row (the step loop, the embedded threads,
a run_worker process), a clean stop removes it, /workers/ (admins only) lists what each holds and marks
stale ones, and stale rows are forgotten later."""

import signal
import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.operations.helpers import spawn_run_worker
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster, make_user
from tests.support.packages import stock_packages
from tests.support.waiting import wait_until
from upgrades.engine import embedded
from upgrades.engine.heartbeat import WorkerGroup, forget_stale_workers
from upgrades.engine.worker import Worker
from upgrades.models import SubTask, WorkerHeartbeat
from upgrades.models.dag import State


@pytest.mark.django_db
def test_a_worker_step_writes_its_heartbeat(settings):
    import os

    worker = Worker(name="beats", dag_ids=[])
    worker.step()
    row = WorkerHeartbeat.objects.get()
    assert (row.ident, row.pid, row.kind, row.threads) == (worker.group.ident, os.getpid(), "process", 1)
    assert worker.owner.startswith(row.ident + ":")
    first = row.last_beat_at
    worker.group.beat(force=True)
    row.refresh_from_db()
    assert row.last_beat_at >= first
    # A row deleted under it (forgotten while the database was away) is written again.
    WorkerHeartbeat.objects.all().delete()
    worker.group.beat(force=True)
    assert WorkerHeartbeat.objects.filter(ident=worker.group.ident).exists()


@pytest.mark.django_db(transaction=True)
def test_a_worker_loop_removes_its_row_when_stopped_cleanly():
    stop = threading.Event()
    worker = Worker(name="loop", stop_event=stop)
    thread = threading.Thread(target=worker.run_forever)
    thread.start()
    try:
        wait_until(lambda: WorkerHeartbeat.objects.filter(ident=worker.group.ident).exists(), what="a heartbeat row")
    finally:
        stop.set()
        thread.join()
    assert not WorkerHeartbeat.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_embedded_threads_share_one_row_removed_on_stop(settings):
    settings.EMBEDDED_WORKER_THREADS = 2
    try:
        embedded.run_embedded_workers()
        row = wait_until(lambda: WorkerHeartbeat.objects.filter(kind="embedded").first(), what="the embedded row")
        assert row.threads == 2
    finally:
        embedded.stop_embedded_workers()
    assert not WorkerHeartbeat.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_run_worker_process_heartbeats_and_removes_its_row_on_sigterm():
    child = spawn_run_worker("--threads", "2")
    try:
        row = wait_until(lambda: WorkerHeartbeat.objects.first(), timeout=60, what="the run_worker row")
        assert (row.kind, row.threads, row.pid) == ("process", 2, child.pid)
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=30) == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert not WorkerHeartbeat.objects.exists()


def _group_row(ident, *, beat_ago, kind="process"):
    return WorkerHeartbeat.objects.create(
        ident=ident, host="node-a", pid=4242, kind=kind, threads=3, last_beat_at=timezone.now() - beat_ago
    )


@pytest.mark.django_db
def test_workers_page_lists_holdings_and_marks_stale(client, settings):
    settings.WORKER_LEASE_SECONDS = 10
    cluster = make_cluster()
    stock_packages(TARGET)
    dag = start_upgrade(cluster, TARGET)
    live = _group_row("node-a:4242:aaaa1111", beat_ago=timedelta(seconds=2))
    stale = _group_row("node-b:77:bbbb2222", beat_ago=timedelta(seconds=31))
    held = SubTask.objects.filter(dag=dag).order_by("id").first()
    SubTask.objects.filter(pk=held.pk).update(
        state=State.RUNNING, lease_owner=f"{live.ident}:w0:cafe0000", lease_expires_at=timezone.now()
    )
    client.force_login(make_user("admin"))
    response = client.get("/workers/")
    assert response.status_code == 200
    page = response.content.decode()
    live_row = page.split(f'data-worker="{live.ident}"')[1].split("</tr>")[0]
    stale_row = page.split(f'data-worker="{stale.ident}"')[1].split("</tr>")[0]
    assert "live" in live_row and "stale" not in live_row and f"sub-task {held.pk}" in live_row
    assert f"run {dag.pk}" in live_row
    assert "badge-stale" in stale_row and "stale" in stale_row and "nothing" in stale_row
    assert 'class="worker-stale"' in page
    assert "1 stale worker" in page
    assert 'href="/workers/"' in page  # the admin's nav shows the page


@pytest.mark.django_db
def test_workers_page_is_for_admins_only(client):
    response = client.get("/workers/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    for role in ("viewer", "operator"):
        client.force_login(make_user(role))
        assert client.get("/workers/").status_code == 403
        assert 'href="/workers/"' not in client.get("/runs/").content.decode()
    client.force_login(make_user("admin"))
    assert client.get("/workers/").status_code == 200


@pytest.mark.django_db
def test_stale_rows_are_forgotten_after_a_while(settings):
    settings.WORKER_LEASE_SECONDS = 10
    fresh = _group_row("h:1:fresh000", beat_ago=timedelta(seconds=5))
    stale = _group_row("h:2:stale000", beat_ago=timedelta(seconds=60))  # stale (> 30 s), not yet forgotten
    gone = _group_row("h:3:gone0000", beat_ago=timedelta(seconds=201))  # > 20 leases
    assert forget_stale_workers() == 1
    assert set(WorkerHeartbeat.objects.values_list("ident", flat=True)) == {fresh.ident, stale.ident}
    assert not WorkerHeartbeat.objects.filter(pk=gone.pk).exists()


@pytest.mark.django_db
def test_group_owner_names_map_back_to_the_group():
    from upgrades.operations.selectors import group_ident

    group = WorkerGroup(kind="embedded", threads=2)
    assert group_ident(group.owner_for("embedded-0")) == group.ident
    assert group.owner_for("a") != group.owner_for("a")
