"""This dashboard as the obshell agent of a real cluster: a second instance, in its own process on its own
database, serves a simulated cluster; the first registers it with its API token as the password, pushes the
packages, upgrades it and mirrors the run: a failure injected on the second is mirrored and RETRY from the first
finishes it."""

import os
import subprocess
import sys
import time

import pytest
from django.test import Client

from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.factories import make_user
from tests.support.live_server import LiveServer
from tests.support.packages import ingest_rpms
from tests.support.paths import PROJECT_ROOT
from upgrades.audit import Actor
from upgrades.engine.mirror import mirror_poll
from upgrades.models import Dag
from upgrades.services.dag_operators import dag_operate
from upgrades.services.dag_start import upgrade_start
from upgrades.services.real_clusters import cluster_register_obshell
from upgrades.services.real_upgrades import packages_push

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
ACTOR = Actor.system("test dba")


def peer_manage(env, *args):
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def peer(tmp_path, settings):
    settings.MIRROR_POLL_SECONDS = 0.05
    env = {
        **{key: value for key, value in os.environ.items() if key not in ("REDIS_URL",)},
        "DATABASE_URL": f"sqlite:///{tmp_path / 'peer.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "peer-media"),
        "SIMULATION_SPEED": "0",
        "EMBEDDED_WORKER": "0",
    }
    peer_manage(env, "migrate", "--no-input")
    peer_manage(
        env,
        "add_cluster",
        "sim1",
        "--edition",
        "community",
        "--zones",
        "3",
        "--servers-per-zone",
        "1",
        "--version",
        "4.2.1.0",
        "--build",
        "100000102023092807",
    )
    token = peer_manage(env, "create_token", "sim1", "--label", "dashboard peer").strip().splitlines()[-1]
    server = LiveServer(
        DATABASE_URL=env["DATABASE_URL"], MEDIA_ROOT=env["MEDIA_ROOT"], EMBEDDED_WORKER=1, SIMULATION_SPEED=0
    ).start()
    try:
        yield server, token, env
    finally:
        server.stop()


def mirror_until(dag, state, timeout=120):
    deadline = time.monotonic() + timeout
    while dag.state != state:
        assert time.monotonic() < deadline, f"the mirror stayed {dag.state} at stage {dag.stage}"
        time.sleep(min(mirror_poll(dag.pk), 0.2))
        dag.refresh_from_db()
    return dag


def test_upgrade_a_cluster_served_by_another_dashboard(peer, tmp_path):
    server, token, env = peer
    cluster = cluster_register_obshell(
        name="via-peer", addresses=[f"{server.host}:{server.port}"], password=token, edition="community"
    )
    assert cluster.servers.count() == 3 and cluster.zones.count() == 3
    assert packages_push(cluster=cluster, packages=ingest_rpms(TARGET, tmp_path)) == 2
    peer_manage(env, "inject_fault", "sim1", "--node", "Stop zone2")

    dag = upgrade_start(cluster=cluster, version=TARGET.version, release=TARGET.release, mode="ROLLING", actor=ACTOR)
    assert dag.remote_dag_id and dag.max_stage == 30
    mirror_until(dag, "FAILED")
    assert dag.nodes.get(state="FAILED").name == "Stop zone2"

    dag_operate(dag=dag, operator="RETRY", actor=ACTOR, reason="zone2 is fine now")
    mirror_until(dag, "SUCCEED")
    assert Dag.objects.get(pk=dag.pk).holds_lock is False
    viewer = Client()
    viewer.force_login(make_user("viewer"))
    page = viewer.get(f"/runs/{dag.pk}/").content.decode()
    assert "SUCCEED" in page and dag.remote_dag_id in page
