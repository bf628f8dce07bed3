import base64
import json
import os

import pytest

from tests.api.signing import aes_encrypt, as_meta, v2_request
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.factories import make_cluster
from tests.support.packages import ingest_rpms, write_rpms
from upgrades.models import AuditEntry, Dag, Node, SubTask
from upgrades.security.tokens import token_create

TARGET_VERSION, TARGET_RELEASE = TARGET

pytestmark = pytest.mark.django_db

UPGRADE = "/api/v1/ob/upgrade"
CHECK = "/api/v1/ob/upgrade/check"


@pytest.fixture
def packages(tmp_path, cluster):
    return ingest_rpms(TARGET, tmp_path / "rpms")


def body(**overrides):
    document = {"version": TARGET_VERSION, "release": TARGET_RELEASE, "mode": "ROLLING", "upgradeDir": None}
    document.update(overrides)
    return {k: v for k, v in document.items() if v is not ...}


def error_of(response):
    data = response.json()
    assert data["successful"] is False and data["status"] == response.status_code
    return data["error"]


def nothing_created():
    return not Dag.objects.exists() and not Node.objects.exists() and not SubTask.objects.exists()


def test_upgrade_creates_the_dag_and_answers_the_create_shape(api, packages, cluster):
    response = api.post(UPGRADE, body())
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    dag = Dag.objects.get()
    assert list(data) == [
        "id",
        "dag_id",
        "name",
        "stage",
        "max_stage",
        "maintenance_type",
        "maintenance_key",
        "state",
        "operator",
        "start_time",
        "end_time",
        "additional_data",
        "nodes",
    ]
    assert data["id"] == f"1{dag.pk}" and data["dag_id"] == dag.pk
    assert data["name"] == f"OB rolling upgrade {TARGET_VERSION}-{TARGET_RELEASE}"
    assert data["max_stage"] == 30 and data["stage"] == 1
    assert (data["maintenance_type"], data["maintenance_key"]) == (2, "")
    assert (data["state"], data["operator"]) == ("READY", "RUN")
    assert data["start_time"] == data["end_time"] == "0001-01-01T00:00:00Z"
    assert data["nodes"] is None and data["additional_data"] is None
    assert dag.actor_label == "token tests" and dag.reason == ""
    entry = AuditEntry.objects.get(action="upgrade.start", outcome="ok")
    assert entry.actor_token is not None


def test_optional_reason_is_kept(api, packages):
    assert api.post(UPGRADE, body(reason="change 42")).status_code == 200
    assert Dag.objects.get().reason == "change 42"


def test_keys_are_case_insensitive_and_unknown_ones_ignored(api, packages):
    document = {"Version": TARGET_VERSION, "RELEASE": TARGET_RELEASE, "Mode": "rolling", "extra": 1}
    response = api.post(UPGRADE, document)
    assert response.status_code == 200, response.content


def test_check_route_creates_the_six_node_check_dag(api, packages):
    response = api.post(CHECK, {"version": TARGET_VERSION, "release": TARGET_RELEASE, "upgradeDir": None})
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert data["name"] == f"Upgrade check OB {TARGET_VERSION}-{TARGET_RELEASE}"
    assert data["max_stage"] == 6 and data["maintenance_type"] == 1 and data["nodes"] is None


@pytest.mark.parametrize(
    ("document", "missing"),
    [
        (body(mode=...), ["Mode"]),
        (body(version=None), ["Version"]),
        (body(release="", mode=""), ["Release", "Mode"]),
    ],
)
def test_missing_fields_are_bind_json_failed(api, packages, document, missing):
    response = api.post(UPGRADE, document)
    assert response.status_code == 400
    error = error_of(response)
    assert error["errCode"] == "Common.BindJsonFailed"
    expected = "\n".join(
        f"Key: 'ObUpgradeParam.{f}' Error:Field validation for '{f}' failed on the 'required' tag" for f in missing
    )
    assert error["message"] == f"Bind JSON failed: {expected}"
    assert nothing_created()


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b'{"version": 4.3}', b"", b'"text"'])
def test_malformed_bodies_are_bind_json_failed(api, packages, raw):
    response = api.post(UPGRADE, raw)
    assert response.status_code == 400
    assert error_of(response)["errCode"] == "Common.BindJsonFailed"
    assert nothing_created()


def _raw_post(api, uri, data, keys=None):
    headers, _ = v2_request(api.public_key, password=api.password, uri=uri, keys=keys)
    return api.client.generic("POST", uri, data=data, content_type="text/plain", **as_meta(headers))


def test_encrypted_garbage_body(api, packages):
    keys = os.urandom(32)
    garbage = aes_encrypt(os.urandom(64), keys[:16], keys[16:])
    response = _raw_post(api, UPGRADE, garbage, keys=keys)
    assert response.status_code == 400
    assert error_of(response)["errCode"] == "Common.BindJsonFailed"
    assert nothing_created()


def test_body_that_is_not_base64(api, packages):
    response = _raw_post(api, UPGRADE, b"{definitely not base64}")
    assert response.status_code == 401
    assert error_of(response) == {
        "code": 10008,
        "errCode": "Common.Unauthorized",
        "message": "Unauthorized: decrypt request body failed",
    }


def test_body_with_a_partial_block(api, packages):
    response = _raw_post(api, UPGRADE, base64.b64encode(os.urandom(20)))
    assert response.status_code == 500
    assert error_of(response)["errCode"] == "Request.Body.Decrypt.AES.ContentLength.Invalid"


def test_header_with_short_aes_keys(api, packages):
    keys = os.urandom(16)
    response = _raw_post(api, UPGRADE, base64.b64encode(os.urandom(32)), keys=keys)
    assert response.status_code == 500
    assert error_of(response)["errCode"] == "Request.Body.Decrypt.AES.KeyAndIv.Invalid"


def test_plain_json_under_v2_is_not_accepted(api, packages):
    response = _raw_post(api, UPGRADE, json.dumps(body()).encode())
    assert response.status_code in (401, 500)
    assert nothing_created()


@pytest.mark.parametrize(
    ("document", "status", "err_code"),
    [
        (body(release="100000102023092807.el7", version="4.2.1.0"), 400, "OB.Upgrade.ToLowerVersion"),
        (body(release="100000012023010101.el7", version="4.2.0.0"), 400, "OB.Upgrade.ToLowerVersion"),
        (body(release="101000062023110110.el7"), 500, "Common.Unexpected"),
        (body(mode="FAST"), 400, "OB.Upgrade.Mode.NotSupported"),
        (body(upgradeDir="relative/dir"), 400, "Common.InvalidPath"),
        (body(upgradeDir="/tmp/../../etc"), 400, "Common.InvalidPath"),
        (body(release="101000062023110109"), 400, "Package.ReleaseFormat.Invalid"),
    ],
)
def test_rejections_carry_obshell_codes_and_leave_nothing(api, packages, document, status, err_code):
    for _attempt in range(2):  # the SDK resends every failed request once: same answer both times
        response = api.post(UPGRADE, document)
        assert response.status_code == status, response.content
        assert error_of(response)["errCode"] == err_code
    assert nothing_created()
    assert AuditEntry.objects.filter(action="upgrade.start", outcome="refused").count() == 2


def test_rolling_needs_three_zones(client, tmp_path):
    from tests.api.helpers import Api

    small = make_cluster(zones=2)
    ingest_rpms(TARGET, tmp_path / "rpms")
    _, secret = token_create(cluster=small, label="small")
    response = Api(client, secret).post(UPGRADE, body())
    assert response.status_code == 400
    assert error_of(response)["errCode"] == "OB.Upgrade.UnableToRollingUpgrade"


def test_missing_target_package(api):
    response = api.post(UPGRADE, body())
    assert response.status_code == 500
    error = error_of(response)
    assert error["errCode"] == "Common.Unexpected"
    assert error["message"].endswith("record not found")


def test_second_upgrade_is_refused_while_the_first_holds_the_lock(api, packages):
    assert api.post(UPGRADE, body()).status_code == 200
    response = api.post(UPGRADE, body(mode="STOPSERVICE"))
    assert response.status_code == 500
    error = error_of(response)
    assert error["errCode"] == "OB.Cluster.UnderMaintenanceWithDag"
    assert Dag.objects.count() == 1


def test_session_operator_can_start_on_the_prefixed_route(client, cluster, packages):
    from tests.support.factories import make_user

    client.force_login(make_user("operator"))
    response = client.post(
        f"/clusters/{cluster.name}/api/v1/ob/upgrade", data=json.dumps(body()), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    assert Dag.objects.get().actor_label.startswith("user operator")


def test_missing_hop_package(client, tmp_path):
    from tests.api.helpers import Api

    older = make_cluster(version="4.2.0.0", build="100000152023080109")
    ingest_rpms(TARGET, tmp_path / "rpms")
    _, secret = token_create(cluster=older, label="older")
    response = Api(client, secret).post(UPGRADE, body())
    assert response.status_code == 400
    error = error_of(response)
    assert error["errCode"] == "OB.Package.NotExist"
    assert "4.2.1.2" in error["message"]
    assert nothing_created()


def test_missing_libs_package(api, tmp_path):
    from upgrades.services.packages import package_upload

    ce = write_rpms(TARGET, tmp_path / "rpms")[0]
    package_upload(path=ce, filename=ce.name)
    response = api.post(UPGRADE, body())
    assert response.status_code == 400
    assert error_of(response)["errCode"] == "OB.Package.NotExist"
    assert "oceanbase-ce-libs" in error_of(response)["message"]
