"""A worker killed with SIGKILL while it mirrors a real cluster's run: once its mirror lease runs out another
worker takes the loop over, and the local run still gets every remote change exactly once."""

import signal

import pytest

from tests.engine.helpers import assert_gapless_events, spawn_run_worker
from tests.support.builds import OB_4_2_1_0_20230928 as START
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.fake_agent import FakeCluster
from tests.support.packages import ingest_rpms
from tests.support.waiting import wait_until
from upgrades.audit import Actor
from upgrades.models import Dag, TaskLog
from upgrades.services.dag_start import upgrade_start
from upgrades.services.real_clusters import cluster_register_obshell
from upgrades.services.real_upgrades import packages_push

CHILD = {"MIRROR_POLL_SECONDS": "0.1"}


def stop(child):
    if child.poll() is None:
        child.kill()
    child.wait(timeout=30)


@pytest.mark.django_db(transaction=True)
def test_another_worker_takes_the_mirror_over(tmp_path):
    with FakeCluster(build=f"{START.version}-{START.build_number}", tick_seconds=0.05) as fake:
        cluster = cluster_register_obshell(name="real1", addresses=fake.addresses, password=fake.password)
        packages_push(cluster=cluster, packages=ingest_rpms(TARGET, tmp_path))
        fake.hang.add("Backup parameters")
        dag = upgrade_start(
            cluster=cluster, version=TARGET.version, release=TARGET.release, mode="ROLLING", actor=Actor.system("t")
        )
        first = spawn_run_worker(lease_seconds=1, env=CHILD)
        try:
            wait_until(
                lambda: Dag.objects.get(pk=dag.pk).nodes.filter(name="Backup parameters", state="RUNNING").exists(),
                timeout=60,
                what="the first worker mirroring up to the hanging stage",
            )
            killed_owner = Dag.objects.get(pk=dag.pk).mirror_owner
            first.send_signal(signal.SIGKILL)
            assert first.wait(timeout=30) == -signal.SIGKILL
        finally:
            stop(first)
        fake.hang.clear()
        second = spawn_run_worker(lease_seconds=1, env=CHILD)
        try:
            wait_until(lambda: Dag.objects.get(pk=dag.pk).state == "SUCCEED", timeout=90, what="the mirror to finish")
        finally:
            stop(second)
    dag.refresh_from_db()
    assert killed_owner and dag.mirror_owner != killed_owner
    assert set(dag.nodes.values_list("state", flat=True)) == {"SUCCEED"}
    remote = fake.dags[int(dag.remote_dag_id[1:])]
    for node in remote.nodes:
        for task in node.sub_tasks:
            local = list(
                TaskLog.objects.filter(sub_task__remote_id=f"1{task.row}").order_by("id").values_list("text", flat=True)
            )
            assert local == [text for _, _, text in task.logs]  # every line, once, in order
    assert_gapless_events(dag)
