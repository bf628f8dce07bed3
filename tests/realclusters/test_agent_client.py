"""Our agent client (upgrades/backends/obshell/client.py) against the fake obshell cluster, version by version."""

import io
import os

import pytest

from tests.support.builds import OB_4_2_1_0_20230928 as START
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.fake_agent import FakeCluster
from tests.support.packages import write_rpms
from tests.support.waiting import wait_until
from upgrades.backends.obshell.client import (
    AgentClient,
    AgentKeyChanged,
    AgentRefused,
    AgentUnreachable,
    CredentialsRejected,
)
from upgrades.security.crypto import AesEncryptingReader, aes_decrypt, aes_encrypted_length

START_BUILD = f"{START.version}-{START.build_number}"


def client_for(cluster, **kw):
    kw.setdefault("password", cluster.password)
    return AgentClient(cluster.addresses, **kw)


def protected_requests(agent):
    return [path for _, path in agent.requests if not path.startswith(("/api/v1/info", "/api/v1/secret"))]


@pytest.mark.parametrize(
    ("version", "bits", "auth"),
    [("4.2.2.0", 512, "v1"), ("4.3.0.0-100000012025043010", 512, "v2"), ("4.5.0.0-100000012026050810", 1024, "v2")],
)
def test_negotiates_and_reads_every_version(version, bits, auth):
    with FakeCluster(build=START_BUILD, agent_version=version, key_bits=bits) as cluster:
        client = client_for(cluster)
        assert client.info().auth == auth
        ob_info = client.get("/api/v1/ob/info")
        assert sorted(ob_info["obcluster_info"]["topology"]) == ["zone1", "zone2", "zone3"]
        assert len(client.public_key()) == (100 if bits == 512 else 188)  # spec 2.1's PKCS#1 lengths


def test_agent_password_goes_in_the_agent_header():
    with FakeCluster(build=START_BUILD, agent_password="agent-secret") as cluster:
        assert client_for(cluster, agent_password="agent-secret").get("/api/v1/agents/status")
        with pytest.raises(CredentialsRejected) as rejected:
            client_for(cluster, agent_password="wrong").get("/api/v1/agents/status")
        assert rejected.value.err_code == "Security.Authentication.IncorrectAgentPassword"


def test_rejected_password_is_not_retried_anywhere():
    with FakeCluster(build=START_BUILD) as cluster:
        with pytest.raises(CredentialsRejected) as rejected:
            client_for(cluster, password="wrong").get("/api/v1/ob/info")
        assert (rejected.value.status, rejected.value.code) == (401, 10008)
        assert [len(protected_requests(agent)) for agent in cluster.agents] == [1, 0, 0]


def test_legacy_error_bodies_are_understood():
    with FakeCluster(build=START_BUILD, agent_version="4.3.0.0-100000012025043010") as cluster:
        with pytest.raises(AgentRefused) as missing:
            client_for(cluster).get("/api/v1/task/dag/1999")
        assert (missing.value.status, missing.value.err_code, missing.value.code) == (404, "Task.NotFound", 2300)


def test_pinned_key_mismatch_sends_nothing():
    with FakeCluster(build=START_BUILD) as cluster:
        first = cluster.agents[0]
        client = client_for(cluster, pinned_keys={cluster.addresses[0]: first.public_key_b64})
        assert client.get("/api/v1/ob/info")
        first.rekey()
        before = len(protected_requests(first))
        with pytest.raises(AgentKeyChanged) as changed:
            client.get("/api/v1/ob/info", fallback=False)
        assert changed.value.published == first.public_key_b64
        assert len(protected_requests(first)) == before + 1  # the one answered DecryptFailed; none signed after


def test_rekey_at_restart_is_learned_when_not_pinned():
    with FakeCluster(build=START_BUILD, agent_version="4.3.1.0-100000012025062514", key_bits=512) as cluster:
        client = client_for(cluster)
        assert client.get("/api/v1/ob/info")
        agent = cluster.agents[0]
        agent.restart(version="4.4.2.0-100000012026041611", after=0.1)
        wait_until(lambda: agent.serving and agent.key.key_size == 1024, timeout=10, what="the agent back, re-keyed")
        assert client.get("/api/v1/ob/info", fallback=False)
        assert len(client.public_key()) == 188


def test_reads_fall_back_to_other_addresses():
    with FakeCluster(build=START_BUILD) as cluster:
        client = client_for(cluster)
        dag = cluster.create_dag(
            "Held", ["Create upgrade dir"], maintenance=True, target={}, agent_for_serial=cluster.agents[0]
        )
        cluster.hang.add("Create upgrade dir")
        node_id = f"1{dag.nodes[0].row}"
        cluster.agents[0].observer_up = False
        assert client.get(f"/api/v1/task/node/{node_id}")["name"] == "Create upgrade dir"
        assert client.current == cluster.addresses[1]
        cluster.agents[0].observer_up = True
        cluster.agents[1].stop()
        cluster.agents[2].stop()
        assert client.get(f"/api/v1/task/node/{node_id}")["id"] == node_id
        cluster.agents[0].stop()
        with pytest.raises(AgentUnreachable):
            client.get(f"/api/v1/task/node/{node_id}")


def test_upload_streams_a_real_rpm(tmp_path):
    rpms = write_rpms(TARGET, tmp_path, binary_size=3 * 1024 * 1024)
    with FakeCluster(build=START_BUILD) as cluster:
        client = client_for(cluster)
        for path in rpms:
            answer = client.upload(str(path))
            assert answer["Name"] == path.name.split(f"-{TARGET.version}")[0]
        stored = {p["name"]: p for p in cluster.packages}
        assert stored["oceanbase-ce"]["size"] == rpms[0].stat().st_size


@pytest.mark.parametrize(
    "size", [0, 1, 15, 16, 47, 48, 49, AesEncryptingReader.CHUNK - 1, AesEncryptingReader.CHUNK + 17]
)
def test_streamed_body_cipher_matches_the_server_side(size):
    plain = os.urandom(size)
    keys = os.urandom(32)
    reader = AesEncryptingReader(io.BytesIO(plain), size, keys)
    pieces = []
    while piece := reader.read(8192):
        pieces.append(piece)
    body = b"".join(pieces)
    assert len(body) == len(reader) == aes_encrypted_length(size)
    assert aes_decrypt(body, keys) == plain
