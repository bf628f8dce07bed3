"""POST /api/v1/package, params backup and restore, env/check and agents/status (spec 3.1), answered from the
token's simulated cluster."""

import hashlib
import json

import pytest

from tests.api.helpers import multipart
from tests.api.signing import as_meta, rsa_encrypt_chunks, v2_request
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.factories import make_user
from tests.support.packages import write_rpms
from upgrades.models import AuditEntry, Dag, Package, Server
from upgrades.security.tokens import token_create

pytestmark = pytest.mark.django_db

PARAMS = ("server_permanent_offline_time", "enable_rebalance", "enable_rereplication")
ROW_KEYS = [
    "SvrIp",
    "SvrPort",
    "Zone",
    "Scope",
    "Name",
    "Value",
    "TenantId",
    "EditLevel",
    "DefaultValue",
    "Section",
    "Info",
    "DataType",
]


def body_of(response):
    return json.loads(response.content)


def servers_of(cluster):
    return list(cluster.servers.order_by("zone__position", "id"))


# --- params backup and restore ---


def test_backup_answers_every_servers_upgrade_parameters_and_keeps_them(api, cluster):
    response = api.post("/api/v1/upgrade/params/backup")
    assert response.status_code == 200
    rows = body_of(response)["data"]["contents"]
    servers = servers_of(cluster)
    assert len(rows) == 3 * len(servers) and all(list(row) == ROW_KEYS for row in rows)
    first = rows[0]
    assert (first["SvrIp"], first["SvrPort"], first["Zone"]) == (servers[0].ip, servers[0].rpc_port, "zone1")
    assert [r["Name"] for r in rows[:3]] == list(PARAMS)
    assert [r["Value"] for r in rows[:3]] == ["3600s", "True", "True"]
    assert {r["Scope"] for r in rows} == {"CLUSTER"} and {r["TenantId"] for r in rows} == {0}
    assert {r["DefaultValue"] for r in rows} == {""}  # not selected by obshell's query
    cluster.refresh_from_db()
    assert cluster.parameters_backup == rows
    assert AuditEntry.objects.filter(action="params.backup", outcome="ok", cluster=cluster).exists()


def test_restore_sets_the_rows_it_is_given_then_the_backup_puts_them_back(api, cluster):
    backup = body_of(api.post("/api/v1/upgrade/params/backup"))["data"]["contents"]
    server = servers_of(cluster)[1]
    changed = {"svrip": server.ip, "svrport": server.rpc_port, "scope": "CLUSTER", "name": "enable_rebalance"}
    response = api.post("/api/v1/upgrade/params/restore", {"params": [{**changed, "value": "False"}]})
    assert response.status_code == 200 and "data" not in body_of(response)
    assert Server.objects.get(pk=server.pk).parameters["enable_rebalance"] == "False"
    now = body_of(api.post("/api/v1/upgrade/params/backup"))["data"]["contents"]
    assert [r["Value"] for r in now if r["SvrIp"] == server.ip and r["Name"] == "enable_rebalance"] == ["False"]

    # An empty body restores the last backup (which is now the one above); the first backup, given as rows,
    # puts every value back.
    assert api.post("/api/v1/upgrade/params/restore").status_code == 200
    assert Server.objects.get(pk=server.pk).parameters["enable_rebalance"] == "False"
    assert api.post("/api/v1/upgrade/params/restore", {"params": backup}).status_code == 200
    assert Server.objects.get(pk=server.pk).parameters["enable_rebalance"] == "True"
    assert AuditEntry.objects.filter(action="params.restore", outcome="ok").count() == 3


@pytest.mark.parametrize(
    ("row", "status", "err_code", "message"),
    [
        ({"Scope": "ZONE"}, 400, "OB.Parameter.Scope.Invalid", "Parameter scope 'ZONE' is invalid"),
        ({"Scope": "TENANT", "TenantId": 1002}, 400, "MySQL.Error", None),
        ({"SvrPort": 1}, 400, "MySQL.Error", "Error 4018 (HY000): Entry not exist"),
        ({"Name": "no_such_parameter"}, 400, "MySQL.Error", "Error 4028 (HY000): Invalid argument"),
        ({"Value": "maybe"}, 400, "MySQL.Error", "Error 4028 (HY000): Invalid argument"),
        ({"SvrPort": "2882"}, 400, "Common.BindJsonFailed", None),
    ],
)
def test_a_refused_restore_changes_nothing(api, cluster, row, status, err_code, message):
    server = servers_of(cluster)[0]
    good = {"SvrIp": server.ip, "SvrPort": server.rpc_port, "Scope": "CLUSTER", "Name": "enable_rebalance"}
    rows = [{**good, "Value": "False"}, {**good, "Value": "False", **row}]
    response = api.post("/api/v1/upgrade/params/restore", {"params": rows})
    error = body_of(response)["error"]
    assert (response.status_code, error["errCode"]) == (status, err_code)
    if message:
        assert error["message"] == message
    assert "enable_rebalance" not in Server.objects.get(pk=server.pk).parameters  # the first row was not kept either


def test_restore_needs_the_operator_scope_of_a_token(api, cluster, client):
    _row, read_only = token_create(cluster=cluster, label="reader", read_only=True)
    api.password = read_only
    response = api.post("/api/v1/upgrade/params/restore")
    assert (response.status_code, body_of(response)["error"]["errCode"]) == (401, "Security.User.PermissionDenied")


# --- env/check ---


def test_env_check_answers_for_the_cluster_agents_host(api, cluster):
    response = api.post("/api/v1/upgrade/env/check")
    assert response.status_code == 200 and "data" not in body_of(response)
    other = servers_of(cluster)[-1]
    cluster.health = {"python_missing": [other.ip]}  # another host: not this agent's business
    cluster.save()
    assert api.post("/api/v1/upgrade/env/check").status_code == 200
    cluster.health = {"mysql_connector_missing": True}
    cluster.save()
    response = api.post("/api/v1/upgrade/env/check")
    assert response.status_code == 500
    assert body_of(response)["error"] == {
        "errCode": "Environment.WithoutModule",
        "message": "Please check if Python module 'mysql.connector' is installed",
    }
    cluster.health = {"python_missing": [cluster.agent_server().ip]}
    cluster.save()
    response = api.post(f"/clusters/{cluster.name}/api/v1/upgrade/env/check")
    assert body_of(response)["error"]["message"] == "Please check if Python is installed"


# --- agents/status ---


def test_agents_status_maps_every_answering_agent(api, cluster):
    servers = servers_of(cluster)
    data = body_of(api.get("/api/v1/agents/status?ob_query_timeout=1000"))["data"]
    assert list(data) == [s.agent_address for s in servers]
    first = data[servers[0].agent_address]
    assert first["agent"] == {"ip": servers[0].ip, "port": servers[0].agent_port, "identity": "CLUSTER AGENT"}
    assert (first["state"], first["obState"], first["underMaintenance"], first["pid"]) == (2, 3, False, 0)
    assert first["sqlPort"] == servers[0].sql_port

    Server.objects.filter(pk=servers[1].pk).update(status=Server.Status.INACTIVE)
    Server.objects.filter(pk=servers[2].pk).update(process_running=False)
    Dag.objects.create(cluster=cluster, name="held", holds_lock=True, max_stage=1)
    data = body_of(api.get("/api/v1/agents/status"))["data"]
    assert servers[1].agent_address not in data  # its agent does not answer: obshell leaves it out
    assert data[servers[2].agent_address]["obState"] == 0
    assert all(status["underMaintenance"] for status in data.values())


# --- POST /api/v1/package ---

PLAIN_UPLOAD = "/api/v1/package"


def plain_upload(api, path, *, sha256=None, header=None, uri=PLAIN_UPLOAD, field="file", signed=True):
    data, content_type = multipart(path, field)
    meta = {}
    if signed:
        headers, _ = v2_request(api.public_key, password=api.password, uri=uri)
        meta = as_meta(headers)
    digest = sha256 if sha256 is not None else hashlib.sha256(path.read_bytes()).hexdigest()
    meta["HTTP_X_OCS_FILE_SHA256"] = (
        header if header is not None else rsa_encrypt_chunks(api.public_key, digest.encode())
    )
    return api.client.generic("POST", uri, data=data, content_type=content_type, **meta)


def test_plain_upload_answers_snake_case(api, tmp_path):
    ce = write_rpms(TARGET, tmp_path)[0]
    response = plain_upload(api, ce)
    assert response.status_code == 200, response.content
    data = body_of(response)["data"]
    assert list(data) == [
        "pkg_id",
        "name",
        "version",
        "release_distribution",
        "distribution",
        "release",
        "architecture",
        "size",
        "payload_size",
        "chunk_count",
        "md5",
        "upgrade_dep_yaml",
        "gmt_modify",
    ]
    package = Package.objects.get()
    assert (data["pkg_id"], data["name"], data["upgrade_dep_yaml"]) == (package.pk, "oceanbase-ce", "")
    assert package.uploaded_by_cluster is not None  # the token's cluster, as on the encrypted route


def test_plain_upload_checks_the_file_sha256(api, tmp_path):
    ce = write_rpms(TARGET, tmp_path)[0]
    mismatch = plain_upload(api, ce, sha256="0" * 64)
    assert (mismatch.status_code, body_of(mismatch)["error"]) == (
        401,
        {"errCode": "Security.Authentication.File.Sha256Mismatch", "message": "File SHA256 mismatch"},
    )
    empty = plain_upload(api, ce, header="")
    assert body_of(empty)["error"]["errCode"] == "Security.Authentication.File.Sha256Mismatch"
    unreadable = plain_upload(api, ce, header="bm90IGEga2V5")
    error = body_of(unreadable)["error"]
    assert (unreadable.status_code, error["code"], error["errCode"]) == (401, 10008, "Common.Unauthorized")
    assert error["message"].startswith("Unauthorized: decrypt file sha256 failed: ")
    assert not Package.objects.exists()


def test_plain_upload_needs_a_token_or_session_unlike_obshell(api, tmp_path, client, cluster):
    ce = write_rpms(TARGET, tmp_path)[0]
    anonymous = plain_upload(api, ce, signed=False)
    assert (anonymous.status_code, body_of(anonymous)["error"]["errCode"]) == (400, "Request.Header.NotFound")
    missing = plain_upload(api, ce, field="package")
    assert (missing.status_code, body_of(missing)["error"]) == (
        500,
        {"errCode": "Request.File.Missing", "message": "File 'file' in the request is missing: http: no such file"},
    )
    assert not Package.objects.exists()
    client.force_login(make_user("admin"))
    data, content_type = multipart(ce)
    session = client.generic(
        "POST",
        f"/clusters/{cluster.name}/api/v1/package",
        data=data,
        content_type=content_type,
        HTTP_X_OCS_FILE_SHA256=rsa_encrypt_chunks(api.public_key, hashlib.sha256(ce.read_bytes()).hexdigest().encode()),
    )
    assert session.status_code == 200, session.content
