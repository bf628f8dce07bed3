"""Real answers of every route, success and error, validated against the route's documented schema in
/api/schema (jsonschema, draft 2020-12 as OpenAPI 3.1 uses): an answer outside the document fails."""

import hashlib
import json

import jsonschema
import pytest

from tests.api.helpers import multipart
from tests.api.signing import as_meta, rsa_encrypt_chunks, v2_request
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.builds import OB_4_3_0_1_20240322 as SPARE
from tests.support.builds import OBSHELL_4_2_2_0_20240108 as OBSHELL
from tests.support.packages import write_obshell_rpm, write_rpms
from upgrades.audit import Actor
from upgrades.engine.runner import run_dag_to_end
from upgrades.models import SubTask

pytestmark = pytest.mark.django_db


def load_document(client):
    response = client.get("/api/schema", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    try:
        return json.loads(response.content)
    except ValueError:
        import yaml

        return yaml.safe_load(response.content)


def operations(document):
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item}


def schema_for(document, method, template, status):
    """The documented schema of this answer (a resource carrying the components its $refs name)."""
    responses = document["paths"][template][method.lower()]["responses"]
    assert str(status) in responses, f"{method} {template} answered {status}, not documented ({sorted(responses)})"
    schema = responses[str(status)]["content"]["application/json"]["schema"]
    return {**schema, "components": document["components"]}


def check_answer(document, method, template, response):
    body = json.loads(response.content)
    jsonschema.Draft202012Validator(schema_for(document, method, template, response.status_code)).validate(body)
    return body


class Driver:
    """Signs requests like the SDK (tests/api/signing.py), validates each answer, records what was covered."""

    def __init__(self, api, document, prefix=""):
        self.api = api
        self.document = document
        self.prefix = prefix
        self.seen = {}  # (method, template) -> statuses

    def call(
        self,
        method,
        route,
        *,
        params=None,
        query="",
        body=None,
        signed=True,
        content_type=None,
        raw=None,
        encrypt_body=True,
        extra_meta=None,
    ):
        template = self.prefix_template() + "/api/v1/" + route
        path = template.replace("{cluster_name}", self.cluster_name()).format(**(params or {}))
        uri = path + (f"?{query}" if query else "")
        meta = {}
        data = b""
        if raw is not None:
            body = raw
        if signed:
            encrypted = body if encrypt_body else None
            headers, data = v2_request(self.api.public_key, password=self.api.password, uri=uri, body=encrypted)
            meta = as_meta(headers)
            if not encrypt_body and body is not None:
                data = body
        elif body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        meta.update(extra_meta or {})
        response = self.api.client.generic(method, uri, data=data, content_type=content_type or "text/plain", **meta)
        check_answer(self.document, method, template, response)
        self.seen.setdefault((method, template), set()).add(response.status_code)
        return response

    def prefix_template(self):
        return "/clusters/{cluster_name}" if self.prefix else ""

    def cluster_name(self):
        return self.prefix


def upload(driver, path, **kw):
    data, content_type = multipart(path)
    return driver.call("POST", "upgrade/package", body=data, content_type=content_type, **kw)


def plain_upload(driver, path, *, sha256=None):
    """POST /api/v1/package: the multipart body unencrypted, the file's SHA-256 RSA-encrypted in a header."""
    data, content_type = multipart(path)
    digest = sha256 if sha256 is not None else hashlib.sha256(path.read_bytes()).hexdigest()
    header = rsa_encrypt_chunks(driver.api.public_key, digest.encode())
    return driver.call(
        "POST",
        "package",
        body=data,
        content_type=content_type,
        encrypt_body=False,
        extra_meta={"HTTP_X_OCS_FILE_SHA256": header},
    )


def expect(response, status, err_code=None):
    assert response.status_code == status, response.content
    if err_code:
        assert response.json()["error"]["errCode"] == err_code
    return response.json()


@pytest.mark.parametrize("prefixed", [False, True], ids=["root", "clusters-prefix"])
def test_every_route_answers_as_documented(client, api, cluster, tmp_path, prefixed):
    from upgrades.backends.faults import fault_inject
    from upgrades.services.dag_start import upgrade_check_start

    document = load_document(client)
    drive = Driver(api, document, prefix=cluster.name if prefixed else "")
    call = drive.call

    # Open routes.
    for route in ("info", "status", "secret"):
        expect(call("GET", route, signed=False), 200)
    expect(call("POST", "status", signed=False), 200)

    # Refusals before any data exists: no header, a bad header, an unknown id, nothing in maintenance.
    expect(call("GET", "ob/info", signed=False), 400, "Request.Header.NotFound")
    expect(call("GET", "ob/info"), 200)
    expect(call("GET", "task/dag/maintain/ob"), 404, "Task.NotFound")
    expect(call("GET", "task/dag/maintain/agent"), 404, "Task.NotFound")
    expect(call("GET", "upgrade/package/info"), 200)
    expect(call("GET", "upgrade/package/info", signed=False), 400, "Request.Header.NotFound")
    expect(call("GET", "task/dag/unfinish"), 200)  # {"contents": null}

    # Packages: a real upload, a refused one, the listing.
    rpms = write_rpms(TARGET, tmp_path / "rpms")
    for rpm in rpms:
        expect(upload(drive, rpm), 200)
    (tmp_path / "junk.rpm").write_bytes(b"not an rpm at all")
    expect(upload(drive, tmp_path / "junk.rpm"), 500, "Common.Unexpected")
    expect(call("POST", "upgrade/package", body=b"x", content_type="application/json"), 500, "Request.File.Missing")
    listing = expect(call("GET", "upgrade/package/info"), 200)["data"]["contents"]
    assert listing
    # The unencrypted upload: the same file again (the stored package answers), a wrong SHA-256.
    expect(plain_upload(drive, rpms[0]), 200)
    expect(plain_upload(drive, rpms[0], sha256="0" * 64), 401, "Security.Authentication.File.Sha256Mismatch")

    # Parameters and environment: backup, restore (the backup, rows, a bad scope), the python check, agents.
    expect(call("POST", "upgrade/params/backup"), 200)
    expect(call("POST", "upgrade/params/backup", signed=False), 400, "Request.Header.NotFound")
    expect(call("POST", "upgrade/params/restore"), 200)
    rows = [{"SvrIp": "1.2.3.4", "SvrPort": 2882, "Scope": "NODE", "Name": "enable_rebalance", "Value": "False"}]
    expect(call("POST", "upgrade/params/restore", body={"params": rows}), 400, "OB.Parameter.Scope.Invalid")
    expect(call("POST", "upgrade/env/check"), 200)
    expect(call("POST", "upgrade/env/check", signed=False), 400, "Request.Header.NotFound")
    expect(call("GET", "agents/status"), 200)
    expect(call("GET", "agents/status", signed=False), 400, "Request.Header.NotFound")

    # Check DAGs that ran (with logs), failed at one node: a node passed, a whole DAG passed.
    def failed_check_dag():
        fault_inject(cluster=cluster, node_name="Create upgrade dir")
        failed = upgrade_check_start(
            cluster=cluster, version=TARGET.version, release=TARGET.release, actor=Actor.system("test")
        )
        assert run_dag_to_end(failed.pk).state == "FAILED"
        return failed

    dag = failed_check_dag()
    node = dag.nodes.order_by("seq").first()
    sub_task = SubTask.objects.filter(node=node).order_by("id").first()
    ids = {"generic_id": dag.generic_id}
    expect(call("GET", "task/dag/{generic_id}", params=ids), 200)
    expect(call("GET", "task/dag/{generic_id}", params=ids, query="show_details=False"), 200)
    expect(call("GET", "task/dag/{generic_id}", params=ids, query="show_details=yes"), 400)
    expect(call("GET", "task/dag/{generic_id}", params={"generic_id": "1x"}), 400, "Task.GenericID.Invalid")
    expect(call("GET", "task/dag/{generic_id}", params={"generic_id": "1999999"}), 404, "Task.NotFound")
    expect(call("GET", "task/node/{generic_id}", params={"generic_id": node.generic_id}), 200)
    expect(call("GET", "task/node/{generic_id}", params={"generic_id": "1999999"}), 404)
    expect(call("GET", "task/sub_task/{generic_id}", params={"generic_id": sub_task.generic_id}), 200)
    expect(call("GET", "task/sub_task/{generic_id}", params={"generic_id": "abc"}), 400)
    expect(call("GET", "task/sub_task/{generic_id}/logs", params={"generic_id": sub_task.generic_id}), 200)
    expect(call("GET", "task/sub_task/{generic_id}/logs", params={"generic_id": "1999999"}), 404)
    lists = ("task/dag/ob/unfinish", "task/dag/unfinish", "task/dags/ob")
    for route in (*lists, "task/dag/maintain/agents", "task/dag/agent/unfinish", "task/dags/agent"):
        expect(call("GET", route), 200)
        expect(call("GET", route, query="show_details=maybe"), 400, "Request.Query.Param.Illegal")

    node_ids = {"generic_id": dag.nodes.get(name="Create upgrade dir").generic_id}
    expect(call("POST", "task/dag/{generic_id}", params=ids, body={"operator": "RUN"}), 400)
    expect(call("POST", "task/dag/{generic_id}", params=ids, body={}), 400, "Common.BindJsonFailed")
    expect(call("POST", "task/node/{generic_id}", params=node_ids, body={"operator": "RETRY"}), 400)
    expect(call("POST", "task/node/{generic_id}", params=node_ids, body={"operator": "PASS"}), 200)
    run_dag_to_end(dag.pk)
    again = failed_check_dag()
    expect(
        call("POST", "task/dag/{generic_id}", params={"generic_id": again.generic_id}, body={"operator": "PASS"}), 200
    )

    # obshell's own upgrade: an uploaded obshell rpm, a check, a refused one, a start, a conflicting second start,
    # then the run finishes (releasing the lock) before the OB upgrade below.
    obshell = write_obshell_rpm(OBSHELL, tmp_path / "obshell")
    expect(upload(drive, obshell), 200)
    agent_target = {"version": OBSHELL.version, "release": OBSHELL.release}
    expect(call("POST", "agent/upgrade/check", body=agent_target), 200)
    expect(call("POST", "agent/upgrade/check", body={"release": OBSHELL.release}), 400, "Common.BindJsonFailed")
    agent_run = expect(call("POST", "agent/upgrade", body={**agent_target, "reason": "fixes"}), 200)["data"]
    expect(call("POST", "agent/upgrade", body=agent_target), 500, "OB.Cluster.UnderMaintenanceWithDag")
    expect(call("POST", "agent/upgrade", body={"version": "4.2.1.0", "release": "1.el7"}), 400)
    assert run_dag_to_end(agent_run["dag_id"]).state == "SUCCEED"

    # Upgrades through the API: a check, a start, a conflicting second start (obshell's 500), a bad body.
    target = {"version": TARGET.version, "release": TARGET.release}
    expect(call("POST", "ob/upgrade/check", body=target), 200)
    expect(call("POST", "ob/upgrade/check", body={"version": "4.3.0.1"}), 400, "Common.BindJsonFailed")
    started = expect(call("POST", "ob/upgrade", body={**target, "mode": "ROLLING"}), 200)["data"]
    assert started["nodes"] is None
    expect(call("POST", "ob/upgrade", body={**target, "mode": "ROLLING"}), 500, "OB.Cluster.UnderMaintenanceWithDag")
    expect(call("POST", "ob/upgrade", body={**target, "mode": "SIDEWAYS"}), 400)
    expect(call("GET", "task/dag/maintain/ob"), 200)

    # Deleting: refused while the started upgrade needs the package, a bad id, an unknown one, a free one.
    needed = next(p["pkg_id"] for p in listing if p["name"] == "oceanbase-ce")
    expect(call("DELETE", "upgrade/package/{package_id}", params={"package_id": needed}), 500, "OB.Package.InUse")
    expect(call("DELETE", "upgrade/package/{package_id}", params={"package_id": "x1"}), 400)
    expect(call("DELETE", "upgrade/package/{package_id}", params={"package_id": 0}), 400)
    expect(call("DELETE", "upgrade/package/{package_id}", params={"package_id": 999999}), 200)
    cancel = {"operator": "CANCEL"}
    expect(call("POST", "task/dag/{generic_id}", params={"generic_id": started["id"]}, body=cancel), 200)
    spare = expect(upload(drive, write_rpms(SPARE, tmp_path / "spare")[0]), 200)["data"]
    expect(call("DELETE", "upgrade/package/{package_id}", params={"package_id": spare["PkgId"]}), 200)

    # Every documented operation of this prefix was driven, each to a success and to an error.
    prefix = "/clusters/" if prefixed else "/api/"
    documented = {op for op in operations(document) if op[1].startswith(prefix)}
    assert documented == set(drive.seen)
    for (method, template), statuses in drive.seen.items():
        route = template.split("/api/v1/")[1]
        if route != "task/dag/maintain/agent":  # this server keeps no agent-local DAGs: always 404
            assert 200 in statuses, (method, template)
        if route not in ("info", "status", "secret"):
            assert any(s >= 400 for s in statuses), (method, template, statuses)


@pytest.mark.parametrize("route", ["info", "status", "secret"])
def test_open_routes_answer_an_unknown_cluster_as_documented(client, route):
    """A viewer is told an unknown /clusters/<name>/ is 404; an anonymous caller gets the un-prefixed answer
    for any name, known or not (cluster names cannot be probed: upgrades/api/__init__.py). Both documented."""
    from tests.support.factories import make_user

    document = load_document(client)
    anonymous = client.get(f"/clusters/nosuch/api/v1/{route}")
    assert anonymous.status_code == 200
    check_answer(document, "GET", f"/clusters/{{cluster_name}}/api/v1/{route}", anonymous)
    client.force_login(make_user("viewer"))
    response = client.get(f"/clusters/nosuch/api/v1/{route}")
    assert response.status_code == 404
    check_answer(document, "GET", f"/clusters/{{cluster_name}}/api/v1/{route}", response)


def test_an_answer_outside_the_document_fails(client, api):
    """The check can fail: an extra key, a missing key, or an undocumented 500 are each rejected."""
    document = load_document(client)
    response = api.get("/api/v1/secret")
    body = json.loads(response.content)
    schema = schema_for(document, "GET", "/api/v1/secret", 200)
    validator = jsonschema.Draft202012Validator(schema)
    validator.validate(body)
    assert not validator.is_valid({**body, "extra": 1})
    assert not validator.is_valid({**body, "data": {**body["data"], "owner": "x"}})
    assert not validator.is_valid({k: v for k, v in body.items() if k != "traceId"})
    assert not validator.is_valid({**body, "timestamp": "2024-01-09 16:55:58"})
    crash = {
        "successful": False,
        "timestamp": "2024-01-09T16:55:58.7+08:00",
        "duration": 0,
        "status": 500,
        "traceId": "",
        "error": {"errCode": "Common.Unexpected", "message": "Unexpected error: Internal Server Error"},
    }
    in_use = {**crash, "error": {"errCode": "OB.Package.InUse", "message": "needed"}}
    delete = "/api/v1/upgrade/package/{package_id}"
    delete_500 = jsonschema.Draft202012Validator(schema_for(document, "DELETE", delete, 500))
    assert delete_500.is_valid(in_use) and not delete_500.is_valid(crash)
    with pytest.raises(AssertionError, match="not documented"):
        schema_for(document, "GET", "/api/v1/task/dag/{generic_id}", 500)


@pytest.mark.parametrize("name", ["a b", "é", "x%00y", "a.b"])
def test_a_malformed_cluster_prefix_is_an_enveloped_404(client, name):
    """Regression (found by the fuzz): /clusters/<not a slug>/api/v1/... answered Django's HTML 404 page."""
    from urllib.parse import quote

    document = load_document(client)
    response = client.get(f"/clusters/{quote(name)}/api/v1/info")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    body = check_answer(document, "GET", "/clusters/{cluster_name}/api/v1/info", response)
    assert body["error"]["errCode"] == "Common.NotFound"
