import base64

import pytest
from cryptography.hazmat.primitives.serialization import load_der_public_key

from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_user
from tests.support.packages import ingest_rpms
from upgrades.api.obinfo import full_build_version
from upgrades.models import Server

TARGET_VERSION, TARGET_RELEASE = TARGET
TARGET_BUILD = TARGET.build_version

pytestmark = pytest.mark.django_db


def test_info_fields(client, settings):
    settings.ALLOWED_HOSTS = ["10.0.0.1"]
    settings.OCS_AUTH_V1 = True
    data = client.get("/api/v1/info", HTTP_HOST="10.0.0.1:2886").json()["data"]
    assert data["identity"] == "CLUSTER AGENT"
    assert data["version"].startswith("4.5.0.0-")
    assert data["supportedAuth"] == ["v2", "v1"]
    assert data["security"] is False and data["isObproxyAgent"] is False
    assert (data["ip"], data["port"]) == ("10.0.0.1", 2886)
    for key in ("pid", "state", "startAt", "homePath", "obVersion", "architecture", "zone"):
        assert key in data
    assert data["state"] == 2


def test_info_of_a_named_cluster(client, cluster):
    # A viewer's answer; an anonymous caller learns no zone or version of a named cluster (tests/security).
    client.force_login(make_user("viewer"))
    data = client.get(f"/clusters/{cluster.name}/api/v1/info").json()["data"]
    assert data["obVersion"] == "4.2.1.0" and data["zone"] == "zone1"


def test_secret_is_pkcs1_der(client):
    data = client.get("/api/v1/secret", HTTP_HOST="127.0.0.1:8000").json()["data"]
    assert set(data) == {"ip", "port", "public_key"}
    assert data["public_key"].startswith("MIGJAoGBA") and len(data["public_key"]) == 188
    key = load_der_public_key(base64.b64decode(data["public_key"]))
    assert key.key_size == 1024


def test_key_pair_is_created_once(client):
    from upgrades.models import RsaKeyPair
    from upgrades.security import keys

    keys.forget_cached_key()
    first = client.get("/api/v1/secret").json()["data"]["public_key"]
    keys.forget_cached_key()
    second = client.get("/api/v1/secret").json()["data"]["public_key"]
    assert first == second and RsaKeyPair.objects.count() == 1


def test_status(client, cluster):
    body = client.get("/api/v1/status", HTTP_X_OBSHELL_TRACE_ID="zzz").json()
    assert body["traceId"] == ""
    data = body["data"]
    assert data["agent"]["identity"] == "CLUSTER AGENT"
    assert data["obState"] == 3 and data["underMaintenance"] is False
    for key in ("state", "version", "pid", "startAt", "port"):
        assert key in data
    assert client.post("/api/v1/status").status_code == 200


def test_ob_info(api, cluster):
    data = api.get("/api/v1/ob/info").json()["data"]
    info = data["obcluster_info"]
    assert info["name"] == cluster.name and info["version"] == "4.2.1.0" and info["is_shared_storage"] is False
    assert list(info["topology"]) == ["zone1", "zone2", "zone3"]
    server = info["topology"]["zone1"][0]
    assert server["build_version"].startswith("4.2.1.0_100000102023092807-")
    assert server["build_version"].endswith("(Sep 28 2023 " + server["build_version"][-9:])
    assert {"svr_ip", "svr_port", "sql_port", "agent_port", "with_rootserver", "status"} <= set(server)
    assert len(data["agent_info"]) == 3
    assert data["agent_info"][0]["identity"] == "CLUSTER AGENT"


def test_build_version_form():
    text = full_build_version("4.3.0.1_101000062023110109")
    version, _, rest = text.partition("-")
    assert version == "4.3.0.1_101000062023110109"
    commit, _, date = rest.partition("(")
    assert len(commit) == 40 and date.startswith("Nov 01 2023 09:") and date.endswith(")")
    assert full_build_version("4.3.0.1_101000062023110109") == text


def test_ob_info_follows_the_servers(api, cluster):
    Server.objects.filter(cluster=cluster, zone__name="zone1").update(build_version="4.3.0.1_101000062023110109")
    data = api.get("/api/v1/ob/info").json()["data"]["obcluster_info"]
    assert data["topology"]["zone1"][0]["build_version"].startswith("4.3.0.1_101000062023110109-")
    assert data["topology"]["zone2"][0]["build_version"].startswith("4.2.1.0_")
    assert data["version"] == "4.2.1.0"


def test_ob_info_shows_each_zone_as_it_finishes(api, cluster, tmp_path):
    from upgrades.audit import Actor
    from upgrades.backends.faults import fault_inject
    from upgrades.engine.runner import run_dag_to_end

    ingest_rpms(TARGET, tmp_path / "rpms")
    fault_inject(cluster=cluster, node_name="Stop zone2")
    dag = start_upgrade(cluster, TARGET, actor=Actor.system("t"))
    assert run_dag_to_end(dag.pk).state == "FAILED"
    topology = api.get("/api/v1/ob/info").json()["data"]["obcluster_info"]["topology"]
    assert topology["zone1"][0]["build_version"].startswith(TARGET_BUILD + "-")
    assert topology["zone2"][0]["build_version"].startswith("4.2.1.0_100000102023092807-")
    assert topology["zone3"][0]["build_version"].startswith("4.2.1.0_100000102023092807-")


def test_open_routes_of_an_unknown_cluster(client):
    # For a viewer; anonymous callers get the same answer for any name (tests/security/test_hardening.py).
    client.force_login(make_user("viewer"))
    for route in ("info", "status"):
        response = client.get(f"/clusters/nope/api/v1/{route}")
        assert response.status_code == 404
        assert response.json()["error"]["errCode"] == "Common.NotFound"
