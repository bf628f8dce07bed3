"""Our obshell-compatible API for a cluster that is itself driven through its obshell agent: the official SDK,
with that cluster's token, uploads (stored here and forwarded to the agent in the same request), upgrades and
waits, exactly as for a simulated cluster."""

import time

import pytest
from obshell import ClientSet
from obshell.auth.password import PasswordAuth
from obshell.service import client_v1

from tests.support.builds import OB_4_2_1_0_20230928 as START
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.fake_agent import FakeCluster
from tests.support.packages import write_rpms
from upgrades.models import Dag, Package
from upgrades.security.tokens import token_create
from upgrades.services.real_clusters import cluster_register_obshell

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


class _FastTime:
    def __getattr__(self, name):
        return getattr(time, name)

    def sleep(self, seconds):
        time.sleep(min(seconds, 0.1))


def test_sdk_upload_and_upgrade_of_a_real_cluster_through_us(live_server_factory, monkeypatch, tmp_path):
    monkeypatch.setattr(client_v1, "time", _FastTime())
    server = live_server_factory(EMBEDDED_WORKER=1, MIRROR_POLL_SECONDS=0.1, WORKER_LEASE_SECONDS=2)
    with FakeCluster(
        build=f"{START.version}-{START.build_number}", new_agent_version="4.5.0.0-100000012026050810"
    ) as fake:
        cluster = cluster_register_obshell(name="real1", addresses=fake.addresses, password=fake.password)
        _, secret = token_create(cluster=cluster, label="sdk")
        sdk = ClientSet(server.host, server.port, PasswordAuth(secret)).v1
        for path in write_rpms(TARGET, tmp_path):
            assert sdk.upload_pkg(str(path)) is None
        assert Package.objects.count() == 2
        assert {p["name"] for p in fake.packages} == {"oceanbase-ce", "oceanbase-ce-libs"}  # forwarded at once

        dag = sdk.upgrade_ob_sync(TARGET.version, TARGET.release, "ROLLING")
        assert dag.state == "SUCCEED" and dag.max_stage == 30
        local = Dag.objects.get(pk=int(dag.generic_id[1:]))
        assert local.remote_dag_id and local.cluster == cluster
        assert fake.dags[int(local.remote_dag_id[1:])].state == "SUCCEED"
