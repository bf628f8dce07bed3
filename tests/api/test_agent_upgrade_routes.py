"""POST /api/v1/agent/upgrade/check and POST /api/v1/agent/upgrade (spec 3.1, 5.7): the DAGs, obshell's
validation order and errCodes (ob/agent/executor/ob/upgrade_agent_check.go), the shared maintenance lock with an
OB upgrade, and the agent versions a finished run leaves."""

import json

import pytest

from tests.support.builds import OB_4_3_0_1_20231101 as OB_TARGET
from tests.support.builds import OBSHELL_4_2_2_0_20240108 as OBSHELL
from tests.support.dags import start_upgrade
from tests.support.factories import make_user
from tests.support.packages import add_obshell_package, stock_packages, write_obshell_rpm
from upgrades.engine.runner import run_dag_to_end
from upgrades.models import AuditEntry, Dag, Server
from upgrades.models.dag import MaintenanceType, State

pytestmark = pytest.mark.django_db

CHECK = "/api/v1/agent/upgrade/check"
UPGRADE = "/api/v1/agent/upgrade"
CURRENT_AGENT = "4.2.1.0-100000102023092807"
AGENT_CHECK_NODES = [
    "Create upgrade dir",
    "Download all required packages",
    "Check all required packages",
    "Unpack all required packages",
    "Remove upgrade check task dir",
]
AGENT_UPGRADE_NODES = [
    "Create upgrade dir",
    "Download all required packages",
    "Check all required packages",
    "Unpack all required packages",
    "Backup for upgrade",
    "Install new obshell",
    "Restart obshell",
    "Upgrade post table maintain",
    "Remove upgrade check task dir",
]


def body(**overrides):
    document = {"version": OBSHELL.version, "release": OBSHELL.release, "upgradeDir": None}
    document.update(overrides)
    return {k: v for k, v in document.items() if v is not ...}


def error_of(response):
    data = response.json()
    assert data["successful"] is False and data["status"] == response.status_code
    return data["error"]


@pytest.fixture
def obshell_rpm(cluster):
    return add_obshell_package(OBSHELL)


def test_check_creates_the_five_node_dag_without_the_lock(api, cluster, obshell_rpm):
    response = api.post(CHECK, body())
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    dag = Dag.objects.get()
    assert data["name"] == f"Upgrade check obshell {OBSHELL.version}-{OBSHELL.release}"
    assert data["max_stage"] == 5 and data["nodes"] is None
    assert data["maintenance_type"] == MaintenanceType.NONE and data["maintenance_key"] == ""
    assert dag.kind == Dag.Kind.AGENT_UPGRADE_CHECK and not dag.holds_lock
    assert list(dag.nodes.values_list("name", flat=True)) == AGENT_CHECK_NODES
    assert all(node.parallel and node.sub_tasks.count() == 3 for node in dag.nodes.all())
    # Every stage of the check may pass (spec 5.8), none is the python check.
    assert all(dag.nodes.values_list("can_pass", flat=True))


def test_upgrade_creates_the_nine_node_dag_under_the_lock(api, cluster, obshell_rpm):
    response = api.post(UPGRADE, body(reason="CHG-7: obshell bug fixes"))
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    dag = Dag.objects.get()
    assert data["name"] == f"Upgrade obshell {OBSHELL.version}-{OBSHELL.release}"
    assert data["max_stage"] == 9 and data["maintenance_type"] == MaintenanceType.GLOBAL
    assert data["start_time"] == data["end_time"] == "0001-01-01T00:00:00Z"
    assert dag.kind == Dag.Kind.AGENT_UPGRADE and dag.holds_lock and dag.reason == "CHG-7: obshell bug fixes"
    assert list(dag.nodes.values_list("name", flat=True)) == AGENT_UPGRADE_NODES
    assert dag.from_version == CURRENT_AGENT and dag.to_version == OBSHELL.label
    flags = {n.name: (n.can_rollback, n.can_pass, n.can_cancel) for n in dag.nodes.all()}
    assert flags["Install new obshell"] == (True, True, True)
    assert flags["Restart obshell"] == (False, False, True)
    assert flags["Remove upgrade check task dir"] == (False, True, True)
    entry = AuditEntry.objects.get(action=AuditEntry.Action.AGENT_UPGRADE_START)
    assert entry.outcome == AuditEntry.Outcome.OK and entry.dag_id == dag.pk


@pytest.mark.parametrize("route", [CHECK, UPGRADE])
def test_validation_follows_obshells_order(api, cluster, obshell_rpm, route):
    """Each request below fails two checks; the first in obshell's order answers (bind, agent states,
    upgradeDir, release format, version), and a refusal creates nothing."""
    Server.objects.filter(pk=cluster.agent_server().pk).update(status=Server.Status.INACTIVE)
    down = cluster.agent_server().agent_address
    cases = [
        (body(version=...), 400, "Common.BindJsonFailed", "Bind JSON failed: Key: 'UpgradeCheckParam.Version' "),
        (body(upgradeDir="relative/dir"), 500, "Agent.Unavailable", f"Agent {down} is not available"),
    ]
    for document, status, code, message in cases:
        response = api.post(route, document)
        assert response.status_code == status, response.content
        assert error_of(response)["errCode"] == code and error_of(response)["message"].startswith(message)
    Server.objects.update(status=Server.Status.ACTIVE)
    cases = [
        (body(upgradeDir="relative/dir", release="nodot"), 400, "Common.InvalidPath", "Path 'relative/dir' is not"),
        (body(release="nodot", version="1.0"), 400, "Package.ReleaseFormat.Invalid", "Release format nodot is illegal"),
        (
            body(version="4.2.1.0", release="100000102023092807.el7"),
            400,
            "Agent.Upgrade.ToLowerVersion",
            f"Target version {CURRENT_AGENT} is not greater than current version {CURRENT_AGENT}. "
            "Please verify if the parameters have been filled out correctly",
        ),
        # No format check: obshell's lenient compare reads "abc" as 0.
        (body(version="abc"), 400, "Agent.Upgrade.ToLowerVersion", "Target version abc-100000032024010818 is not"),
    ]
    for document, status, code, message in cases:
        response = api.post(route, document)
        assert response.status_code == status, response.content
        assert error_of(response)["errCode"] == code and error_of(response)["message"].startswith(message)
    assert not Dag.objects.exists()
    refused = AuditEntry.objects.filter(outcome=AuditEntry.Outcome.REFUSED, cluster=cluster)
    assert refused.count() >= 5


def test_a_missing_obshell_rpm_is_not_refused_but_fails_the_download(api, cluster):
    """obshell's findTargetPkg never returns its error (upgrade_agent_check.go): the run fails instead."""
    response = api.post(UPGRADE, body())
    assert response.status_code == 200, response.content
    dag = run_dag_to_end(Dag.objects.get().pk)
    assert dag.state == State.FAILED and dag.stage == 2
    failed = dag.sub_tasks.filter(state=State.FAILED).first()
    assert [log.line for log in failed.logs.all()][-1] == "ERROR: [Common.Unexpected]: record not found"
    assert set(Server.objects.values_list("agent_version", flat=True)) == {CURRENT_AGENT}


def test_an_upgrade_of_obshell_and_of_ob_exclude_each_other(api, cluster, obshell_rpm):
    stock_packages(OB_TARGET)
    ob_run = start_upgrade(cluster, OB_TARGET)
    refused = api.post(UPGRADE, body())
    assert refused.status_code == 500
    assert error_of(refused) == {
        "errCode": "OB.Cluster.UnderMaintenanceWithDag",
        "message": f"Create task 'Upgrade obshell {OBSHELL.version}-{OBSHELL.release}' failed: OceanBase cluster "
        f"is under maintenance by DAG: {ob_run.name}, please try again later",
    }
    # The check takes no lock: it runs beside the OB upgrade.
    assert api.post(CHECK, body()).status_code == 200
    Dag.objects.filter(pk=ob_run.pk).update(holds_lock=False, is_finished=True, state=State.SUCCEED)

    started = api.post(UPGRADE, body())
    assert started.status_code == 200, started.content
    ob_refused = api.post(
        "/api/v1/ob/upgrade", {"version": OB_TARGET.version, "release": OB_TARGET.release, "mode": "ROLLING"}
    )
    assert ob_refused.status_code == 500
    assert error_of(ob_refused)["errCode"] == "OB.Cluster.UnderMaintenanceWithDag"
    assert f"under maintenance by DAG: Upgrade obshell {OBSHELL.version}" in error_of(ob_refused)["message"]


def test_a_finished_upgrade_changes_every_agents_version(api, client, cluster, obshell_rpm):
    started = api.post(UPGRADE, body())
    dag = run_dag_to_end(Dag.objects.get(pk=started.json()["data"]["dag_id"]).pk)
    assert dag.state == State.SUCCEED and not dag.holds_lock
    assert set(Server.objects.values_list("agent_version", flat=True)) == {OBSHELL.label}
    assert all(Server.objects.values_list("agent_started_at", flat=True))
    assert set(Server.objects.values_list("build_version", flat=True)) == {"4.2.1.0_100000102023092807"}

    info = api.get("/api/v1/ob/info").json()["data"]
    assert [agent["version"] for agent in info["agent_info"]] == [OBSHELL.label] * 3
    restart = dag.nodes.get(name="Restart obshell").sub_tasks.first()
    lines = [log.line for log in restart.logs.all()]
    assert "restart agent task continue" in lines and f"current obshell version is {OBSHELL.label}" in lines
    assert f"previous version is {CURRENT_AGENT}" in lines and lines[-1] == "Syncing agent public key to oceanbase."

    # The cluster's /info (a signed-in viewer) is its cluster agent; the root /info is this server itself.
    client.force_login(make_user("viewer"))
    prefixed = client.get(f"/clusters/{cluster.name}/api/v1/info").json()["data"]
    assert prefixed["version"] == OBSHELL.label
    root = client.get("/api/v1/info").json()["data"]
    assert root["version"] != OBSHELL.label


def test_the_prefixed_routes_serve_a_session_operator(client, cluster, obshell_rpm):
    client.force_login(make_user("operator"))
    response = client.post(
        f"/clusters/{cluster.name}/api/v1/agent/upgrade/check", data=json.dumps(body()), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    response = client.post(
        f"/clusters/{cluster.name}/api/v1/agent/upgrade",
        data=json.dumps(body(reason="from the API console")),
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert Dag.objects.filter(kind=Dag.Kind.AGENT_UPGRADE, holds_lock=True).count() == 1
    viewer = make_user("viewer")
    client.force_login(viewer)
    refused = client.post(
        f"/clusters/{cluster.name}/api/v1/agent/upgrade", data=json.dumps(body()), content_type="application/json"
    )
    assert refused.status_code == 401 and error_of(refused)["errCode"] == "Security.User.PermissionDenied"


def test_an_ob_upgrade_installs_the_obshell_it_carries(cluster):
    """ "Install new obshell" then "Restart obshell" of an OB upgrade leave every agent on the target build."""
    stock_packages(OB_TARGET)
    dag = run_dag_to_end(start_upgrade(cluster, OB_TARGET).pk)
    assert dag.state == State.SUCCEED
    assert set(Server.objects.values_list("agent_version", flat=True)) == {OB_TARGET.label}
    restart = dag.nodes.get(name="Restart obshell").sub_tasks.first()
    assert f"target obshell version is {OB_TARGET.label}" in [log.line for log in restart.logs.all()]


def test_business_edition_ob_upgrade_keeps_obshell(db):
    from tests.support.factories import make_cluster

    business = make_cluster(edition="business")
    stock_packages(OB_TARGET, edition="business")
    dag = run_dag_to_end(start_upgrade(business, OB_TARGET).pk)
    assert dag.state == State.SUCCEED
    assert set(business.servers.values_list("agent_version", flat=True)) == {CURRENT_AGENT}


@pytest.mark.parametrize("edition", ["community", "business", "standalone"])
def test_an_obshell_rpm_uploads_to_a_cluster_of_any_edition(client, tmp_path, edition):
    """obshell's upload allows the `obshell` name whatever the edition and requires bin/obshell in it
    (ob/agent/executor/ob/upgrade_pkg_upload.go; spec 3.1)."""
    from tests.api.helpers import Api, multipart
    from tests.api.signing import as_meta, v2_request
    from tests.support.factories import make_cluster
    from upgrades.packages.rpmwriter import write_rpm
    from upgrades.security.tokens import token_create

    zones = 1 if edition == "standalone" else 3
    target = make_cluster(edition=edition, zones=zones)
    api = Api(client, token_create(cluster=target, label="t")[1])

    def upload(path):
        data, content_type = multipart(path)
        uri = "/api/v1/upgrade/package"
        headers, encrypted = v2_request(api.public_key, password=api.password, uri=uri, body=data)
        return client.generic("POST", uri, data=encrypted, content_type=content_type, **as_meta(headers))

    stored = upload(write_obshell_rpm(OBSHELL, tmp_path / "ok"))
    assert stored.status_code == 200, stored.content
    assert stored.json()["data"]["Name"] == "obshell"
    broken = write_rpm(
        tmp_path / "obshell-4.2.3.0-1.el7.x86_64.rpm",
        name="obshell",
        version="4.2.3.0",
        release="1.el7",
        arch="x86_64",
        files={"/home/admin/oceanbase/bin/obshell.bak": b"x"},
    )
    refused = upload(broken)
    assert refused.status_code == 500
    assert error_of(refused) == {
        "errCode": "OB.Package.MissingFile",
        "message": "These files are missing in package 'obshell': '[/home/admin/oceanbase/bin/obshell]'",
    }
