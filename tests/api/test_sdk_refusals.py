"""Every refusal through the SDK (or, where the SDK cannot produce the request, through raw HTTP against the
same server): the errCode the SDK raises and the HTTP status the server sent."""

import base64
import os
import time

import obshell.client
import pytest
import requests
from obshell import ClientSet
from obshell.auth.password import PasswordAuth
from obshell.service.client_v1 import OBShellHandleError, TaskExecuteFailedError

from tests.api.helpers import sdk_server
from tests.api.signing import aes_encrypt, load_public_key, v2_request
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.factories import make_cluster
from tests.support.packages import write_rpms
from tests.support.waiting import wait_until_running
from upgrades.backends.faults import fault_inject
from upgrades.models import AuditEntry, Dag
from upgrades.security.tokens import token_create

TARGET_VERSION, TARGET_RELEASE = TARGET

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.usefixtures("fast_sdk_polling")]


class _RecordingRequests:
    """Wraps the `requests` module the SDK client uses, to see the HTTP status of every answer."""

    def __init__(self):
        self.statuses = []

    def __getattr__(self, name):
        return getattr(requests, name)

    def request(self, *args, **kwargs):
        response = requests.request(*args, **kwargs)
        self.statuses.append(response.status_code)
        return response


@pytest.fixture
def sent(monkeypatch):
    recorder = _RecordingRequests()
    monkeypatch.setattr(obshell.client, "requests", recorder)
    return recorder


def refused(call, *args):
    with pytest.raises(OBShellHandleError) as caught:
        call(*args)
    return caught.value


@pytest.fixture
def target_rpms(tmp_path):
    return write_rpms(TARGET, tmp_path / "rpms")


@pytest.fixture
def uploaded(sdk, target_rpms):
    for path in target_rpms:
        sdk.upload_pkg(str(path))


@pytest.mark.parametrize(
    ("version", "release", "mode", "upgrade_dir", "status", "err_code"),
    [
        ("4.2.1.0", "100000102023092807.el7", "ROLLING", None, 400, "OB.Upgrade.ToLowerVersion"),
        ("4.2.0.0", "100000152023080109.el7", "ROLLING", None, 400, "OB.Upgrade.ToLowerVersion"),
        ("4.1.0.0", "100000192023032010.el7", "ROLLING", None, 400, "Agent.OBVersionNotSupported"),
        (TARGET_VERSION, TARGET_RELEASE, "FAST", None, 400, "OB.Upgrade.Mode.NotSupported"),
        (TARGET_VERSION, TARGET_RELEASE, "ROLLING", "not/absolute", 400, "Common.InvalidPath"),
        (TARGET_VERSION, TARGET_RELEASE, "ROLLING", "/tmp/a b;rm", 400, "Common.InvalidPath"),
        (TARGET_VERSION, "101000062023110109", "ROLLING", None, 400, "Package.ReleaseFormat.Invalid"),
        (TARGET_VERSION, "101000062023110199.el7", "ROLLING", None, 500, "Common.Unexpected"),
        (TARGET_VERSION, TARGET_RELEASE, "", None, 400, "Common.BindJsonFailed"),
    ],
)
def test_upgrade_refusals(sdk, uploaded, sent, version, release, mode, upgrade_dir, status, err_code):
    error = refused(sdk.upgrade_ob, version, release, mode, upgrade_dir)
    assert error.err_code == err_code
    # The SDK resends a failed request once (spec 7): the same answer twice, and nothing created.
    assert sent.statuses[-2:] == [status, status]
    assert not Dag.objects.exists()


def test_missing_package(sdk, sent):
    error = refused(sdk.upgrade_ob, TARGET_VERSION, TARGET_RELEASE, "ROLLING")
    assert error.err_code == "Common.Unexpected" and "record not found" in error.message
    assert sent.statuses[-1] == 500
    error = refused(sdk.upgrade_ob_check, TARGET_VERSION, TARGET_RELEASE)
    assert error.err_code == "Common.Unexpected"


def test_missing_hop_package(server, target_rpms, sent):
    older = make_cluster(version="4.2.0.0", build="100000152023080109")
    _, secret = token_create(cluster=older, label="older")
    sdk = ClientSet(server.host, server.port, PasswordAuth(secret)).v1
    for path in target_rpms:
        sdk.upload_pkg(str(path))
    error = refused(sdk.upgrade_ob, TARGET_VERSION, TARGET_RELEASE, "ROLLING")
    assert error.err_code == "OB.Package.NotExist" and "4.2.1.2" in error.message
    assert sent.statuses[-1] == 400


def test_too_few_zones_for_rolling(server, target_rpms, sent):
    small = make_cluster(zones=2)
    _, secret = token_create(cluster=small, label="small")
    sdk = ClientSet(server.host, server.port, PasswordAuth(secret)).v1
    for path in target_rpms:
        sdk.upload_pkg(str(path))
    error = refused(sdk.upgrade_ob, TARGET_VERSION, TARGET_RELEASE, "ROLLING")
    assert error.err_code == "OB.Upgrade.UnableToRollingUpgrade"
    assert sent.statuses[-1] == 400
    stop_service = sdk.upgrade_ob(TARGET_VERSION, TARGET_RELEASE, "STOPSERVICE")
    assert stop_service.max_stage == 18
    assert sdk.wait_dag_succeed(stop_service.generic_id).is_succeed()  # never leave a DAG running


def test_under_maintenance_while_running_and_after_failure(sdk, uploaded, cluster, sent):
    fault_inject(cluster=cluster, node_name="Create upgrade dir", kind="hang")
    running = sdk.upgrade_ob(TARGET_VERSION, TARGET_RELEASE, "ROLLING")
    wait_until_running(running.dag_id, "Create upgrade dir")
    error = refused(sdk.upgrade_ob, TARGET_VERSION, TARGET_RELEASE, "STOPSERVICE")
    assert error.err_code == "OB.Cluster.UnderMaintenanceWithDag" and running.name in error.message
    assert sent.statuses[-1] == 500
    assert sdk.operate_dag_sync(running.generic_id, "CANCEL") is True
    # A cancelled (FAILED) upgrade still holds the lock.
    error = refused(sdk.upgrade_ob, TARGET_VERSION, TARGET_RELEASE, "ROLLING")
    assert error.err_code == "OB.Cluster.UnderMaintenanceWithDag"
    assert Dag.objects.filter(cluster=cluster).count() == 1


def test_wrong_token(server, cluster, sent):
    sdk = ClientSet(server.host, server.port, PasswordAuth("ocs_wrong-token")).v1
    error = refused(sdk.get_ob_info)
    assert error.err_code == "Security.Authentication.IncorrectOceanbasePassword" and error.code == 10008
    assert sent.statuses[-1] == 401
    assert AuditEntry.objects.filter(action="api.auth", outcome="refused").count() >= 1


def test_expired_header(server, token, sent):
    sdk = ClientSet(server.host, server.port, PasswordAuth(token, lifetime=-5)).v1
    error = refused(sdk.get_ob_info)
    assert error.err_code == "Security.Authentication.Expired" and error.code == 10008
    assert sent.statuses[-1] == 401


def test_v1_auth_through_the_sdk(server, token, cluster):
    sdk = ClientSet(server.host, server.port, PasswordAuth(token, version="v1")).v1
    assert sdk.get_ob_info().cluster.cluster_name == cluster.name


def _secret(server):
    return load_public_key(requests.get(server.url + "/api/v1/secret").json()["data"]["public_key"])


def _assert_error(response, status, err_code, code=None):
    assert response.status_code == status
    error = response.json()["error"]
    assert error["errCode"] == err_code
    if code is not None:
        assert error["code"] == code


def test_uri_mismatch(server, token):
    headers, _ = v2_request(_secret(server), password=token, uri="/api/v1/ob/info?x=1")
    _assert_error(
        requests.get(server.url + "/api/v1/ob/info", headers=headers),
        401,
        "Security.Authentication.Header.UriMismatch",
        10008,
    )


def test_malformed_header(server, token):
    for value in ("%%%", base64.b64encode(os.urandom(128)).decode(), base64.b64encode(b"short").decode()):
        response = requests.get(server.url + "/api/v1/ob/info", headers={"X-OCS-Header": value})
        _assert_error(response, 401, "Security.Authentication.Header.DecryptFailed", 1)


def test_malformed_and_garbage_bodies(server, token):
    public_key = _secret(server)
    uri = "/api/v1/ob/upgrade"
    headers, data = v2_request(public_key, password=token, uri=uri, body=b"{broken json")
    _assert_error(requests.post(server.url + uri, headers=headers, data=data), 400, "Common.BindJsonFailed")
    keys = os.urandom(32)
    headers, _ = v2_request(public_key, password=token, uri=uri, keys=keys)
    garbage = aes_encrypt(os.urandom(80), keys[:16], keys[16:])
    _assert_error(requests.post(server.url + uri, headers=headers, data=garbage), 400, "Common.BindJsonFailed")
    headers, _ = v2_request(public_key, password=token, uri=uri)
    _assert_error(
        requests.post(server.url + uri, headers=headers, data=b"@@not base64@@"), 401, "Common.Unauthorized", 10008
    )
    headers, _ = v2_request(public_key, password=token, uri=uri)
    _assert_error(
        requests.post(server.url + uri, headers=headers, data=base64.b64encode(os.urandom(24))),
        500,
        "Request.Body.Decrypt.AES.ContentLength.Invalid",
    )
    assert not Dag.objects.exists()


def test_replayed_header_across_two_server_processes(tmp_path, token, cluster):
    with sdk_server(tmp_path / "a") as first, sdk_server(tmp_path / "b") as second:
        keys = {requests.get(s.url + "/api/v1/secret").json()["data"]["public_key"] for s in (first, second)}
        assert len(keys) == 1  # one key pair for every process
        headers, _ = v2_request(load_public_key(keys.pop()), password=token, uri="/api/v1/ob/info")
        accepted = requests.get(first.url + "/api/v1/ob/info", headers=headers)
        assert accepted.status_code == 200
        replayed = requests.get(second.url + "/api/v1/ob/info", headers=headers)
        _assert_error(replayed, 401, "Common.Unauthorized", 10008)
        again = requests.get(first.url + "/api/v1/ob/info", headers=headers)
        _assert_error(again, 401, "Common.Unauthorized", 10008)


def test_an_upload_longer_than_its_header_lifetime_is_not_refused(server, token, target_rpms):
    """ts is judged when the request arrives, not after the body was read (sent chunked, no Content-Length)."""
    public_key = _secret(server)
    uri = "/api/v1/upgrade/package"
    prepared = requests.Request(
        "POST", server.url + uri, files={"file": (target_rpms[0].name, target_rpms[0].read_bytes())}
    ).prepare()
    headers, data = v2_request(public_key, password=token, uri=uri, body=prepared.body, lifetime=2)
    headers["Content-Type"] = prepared.headers["Content-Type"]

    def slow_body():
        half = len(data) // 2
        yield data[:half]
        time.sleep(3.5)  # the upload outlives the header's 2 s lifetime: a duration, not a wait for a state
        yield data[half:]

    response = requests.post(server.url + uri, headers=headers, data=slow_body())
    assert response.status_code == 200, response.text
    assert response.json()["data"]["Name"] == "oceanbase-ce"


def test_a_client_cannot_claim_an_earlier_arrival(server, token):
    headers, _ = v2_request(_secret(server), password=token, uri="/api/v1/ob/info", lifetime=-5)
    headers["X-OCS-Internal-Received-At"] = str(time.time() - 3600)
    _assert_error(
        requests.get(server.url + "/api/v1/ob/info", headers=headers), 401, "Security.Authentication.Expired", 10008
    )


def test_concurrent_upgrades_through_two_server_processes_make_one_dag(tmp_path, token, cluster, target_rpms):
    import threading

    with sdk_server(tmp_path / "a") as first, sdk_server(tmp_path / "b") as second:
        clients = [ClientSet(s.host, s.port, PasswordAuth(token)).v1 for s in (first, second)]
        for path in target_rpms:
            clients[0].upload_pkg(str(path))
        # The winning DAG fails early and keeps the lock, so the loser's answer (and the SDK's automatic
        # resend of it) is the maintenance conflict however fast the winner runs.
        fault_inject(cluster=cluster, node_name="Check the python environment", kind="fail")
        barrier = threading.Barrier(2)
        outcomes = []

        def start(client):
            barrier.wait()
            try:
                outcomes.append(client.upgrade_ob(TARGET_VERSION, TARGET_RELEASE, "ROLLING").generic_id)
            except OBShellHandleError as exc:
                outcomes.append(exc.err_code)

        threads = [threading.Thread(target=start, args=(client,)) for client in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        dags = list(Dag.objects.filter(cluster=cluster))
        assert len(dags) == 1
        assert sorted(outcomes) == sorted([dags[0].generic_id, "OB.Cluster.UnderMaintenanceWithDag"])
        with pytest.raises(TaskExecuteFailedError):
            clients[1].wait_dag_succeed(dags[0].generic_id)
        clients[1].operate_dag(dags[0].generic_id, "RETRY")
        assert clients[1].wait_dag_succeed(dags[0].generic_id).is_succeed()
