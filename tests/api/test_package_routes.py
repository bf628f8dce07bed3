import os

import pytest

from tests.api.helpers import multipart
from tests.api.signing import as_meta, v2_request
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.packages import write_rpms
from upgrades.audit import Actor
from upgrades.demo.rpms import write_oceanbase_rpms
from upgrades.models import AuditEntry, Dag, Package

TARGET_VERSION, TARGET_RELEASE = TARGET

pytestmark = pytest.mark.django_db
UPLOAD = "/api/v1/upgrade/package"


def upload(api, path, *, field="file", scheme="v2"):
    data, content_type = multipart(path, field)
    if scheme == "v2":
        headers, encrypted = v2_request(api.public_key, password=api.password, uri=UPLOAD, body=data)
    else:
        from tests.api.signing import v1_request

        headers, encrypted = v1_request(api.public_key, password=api.password), data
    return api.client.generic("POST", UPLOAD, data=encrypted, content_type=content_type, **as_meta(headers))


def test_upload_answers_obshell_pascal_case(api, tmp_path, settings):
    ce = write_rpms(TARGET, tmp_path)[0]
    response = upload(api, ce)
    assert response.status_code == 200, response.content
    data = response.json()["data"]
    assert list(data) == [
        "PkgId",
        "Name",
        "Version",
        "ReleaseDistribution",
        "Distribution",
        "Release",
        "Architecture",
        "Size",
        "PayloadSize",
        "ChunkCount",
        "Md5",
        "UpgradeDepYaml",
        "GmtModify",
    ]
    package = Package.objects.get()
    assert data["PkgId"] == package.pk and data["Name"] == "oceanbase-ce"
    assert (data["Version"], data["ReleaseDistribution"]) == (TARGET_VERSION, TARGET_RELEASE)
    assert (data["Release"], data["Distribution"]) == ("101000062023110109", "el7")
    assert data["Size"] == ce.stat().st_size and data["ChunkCount"] == 1
    assert "can_be_upgraded_to" in data["UpgradeDepYaml"]
    assert data["GmtModify"] == "0001-01-01T00:00:00Z"
    assert package.sha256 and AuditEntry.objects.filter(action="package.upload", outcome="ok").exists()


def test_upload_over_the_in_memory_limit_streams(api, tmp_path, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    ce = write_rpms(TARGET, tmp_path, binary_size=3 * 1024 * 1024, compression="gzip")[0]
    assert ce.stat().st_size > 1024 * 1024
    response = upload(api, ce)
    assert response.status_code == 200, response.content
    assert Package.objects.get().size == ce.stat().st_size


def test_upload_with_v1_plain_body(api, tmp_path, settings):
    settings.OCS_AUTH_V1 = True
    libs = write_rpms(TARGET, tmp_path)[1]
    response = upload(api, libs, scheme="v1")
    assert response.status_code == 200, response.content
    assert response.json()["data"]["Name"] == "oceanbase-ce-libs"


def test_same_file_twice_is_one_package(api, tmp_path):
    ce = write_rpms(TARGET, tmp_path)[0]
    first = upload(api, ce).json()["data"]
    second = upload(api, ce).json()["data"]
    assert first["PkgId"] == second["PkgId"] and Package.objects.count() == 1


def test_name_of_another_edition_is_refused(api, tmp_path):
    business = write_oceanbase_rpms(tmp_path, edition="business", version=TARGET_VERSION, release=TARGET_RELEASE)[0]
    response = upload(api, business)
    assert response.status_code == 400
    assert response.json()["error"]["errCode"] == "OB.Package.Name.NotSupport"
    assert not Package.objects.exists()


def test_not_an_rpm(api, tmp_path):
    junk = tmp_path / "junk.rpm"
    junk.write_bytes(os.urandom(4096))
    response = upload(api, junk)
    assert response.status_code == 500
    assert response.json()["error"]["errCode"] == "Common.Unexpected"


def test_missing_file_field(api, tmp_path):
    ce = write_rpms(TARGET, tmp_path)[0]
    response = upload(api, ce, field="package")
    assert response.status_code == 500
    assert response.json()["error"] == {
        "errCode": "Request.File.Missing",
        "message": "File 'file' in the request is missing: http: no such file",
    }


def test_not_multipart(api):
    response = api.post(UPLOAD, {"file": "x"})
    assert response.status_code == 500
    assert response.json()["error"] == {
        "errCode": "Request.File.Missing",
        "message": "File 'file' in the request is missing: request Content-Type isn't multipart/form-data",
    }


def test_encrypted_garbage_upload(api):
    headers, encrypted = v2_request(api.public_key, password=api.password, uri=UPLOAD, body=os.urandom(5000))
    response = api.client.generic(
        "POST", UPLOAD, data=encrypted, content_type="multipart/form-data; boundary=abc", **as_meta(headers)
    )
    assert response.status_code == 500
    assert response.json()["error"]["errCode"] == "Request.File.Missing"


def test_listing_and_delete(api, tmp_path, cluster):
    for path in write_rpms(TARGET, tmp_path):
        assert upload(api, path).status_code == 200
    listing = api.get("/api/v1/upgrade/package/info").json()["data"]["contents"]
    assert [p["name"] for p in listing] == ["oceanbase-ce-libs", "oceanbase-ce"]
    assert listing[0]["upgrade_dep_yaml"] == "" and "gmt_modify" in listing[0]
    libs = Package.objects.get(name="oceanbase-ce-libs")
    response = api.call("DELETE", f"/api/v1/upgrade/package/{libs.pk}")
    assert response.status_code == 200 and "data" not in response.json()
    assert not Package.objects.filter(pk=libs.pk).exists()
    # obshell deletes no row for an id that names nothing, and succeeds.
    missing = api.call("DELETE", f"/api/v1/upgrade/package/{libs.pk}")
    assert missing.status_code == 200 and missing.json()["successful"] is True


@pytest.mark.parametrize(
    ("package_id", "status", "error"),
    [
        (
            "abc",
            400,
            {
                "errCode": "Request.Query.Param.Illegal",
                "message": "Query parameter 'id' is illegal%!(EXTRA string=strconv.Atoi: parsing \"abc\": invalid syntax)",
            },
        ),
        (
            "99999999999999999999",
            400,
            {
                "errCode": "Request.Query.Param.Illegal",
                "message": "Query parameter 'id' is illegal%!(EXTRA string=strconv.Atoi: parsing "
                '"99999999999999999999": value out of range)',
            },
        ),
        ("0", 400, {"errCode": "Request.Path.Param.Empty", "message": "Path parameter 'pkg_id' is empty"}),
        ("-3", 400, {"errCode": "Request.Path.Param.Empty", "message": "Path parameter 'pkg_id' is empty"}),
    ],
)
def test_delete_id_edges_answer_as_obshell(api, package_id, status, error):
    response = api.call("DELETE", f"/api/v1/upgrade/package/{package_id}")
    assert response.status_code == status and response.json()["error"] == error


def test_delete_of_an_unknown_id_succeeds_and_deletes_nothing(api, tmp_path):
    for path in write_rpms(TARGET, tmp_path):
        assert upload(api, path).status_code == 200
    response = api.call("DELETE", "/api/v1/upgrade/package/+999999")
    assert response.status_code == 200 and "data" not in response.json()
    assert Package.objects.count() == 2


def test_delete_refused_while_an_unfinished_dag_needs_it(api, tmp_path, cluster):
    for path in write_rpms(TARGET, tmp_path):
        upload(api, path)
    dag = start_upgrade(cluster, TARGET, actor=Actor.system("t"))
    ce = Package.objects.get(name="oceanbase-ce")
    response = api.call("DELETE", f"/api/v1/upgrade/package/{ce.pk}")
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["errCode"] == "OB.Package.InUse" and dag.generic_id in error["message"]
    assert Package.objects.filter(pk=ce.pk).exists()
    Dag.objects.filter(pk=dag.pk).update(is_finished=True, holds_lock=False, state="SUCCEED")
    assert api.call("DELETE", f"/api/v1/upgrade/package/{ce.pk}").status_code == 200


@pytest.mark.parametrize("enforce_csrf", [False, True])
def test_session_admin_uploads_on_the_prefixed_route(tmp_path, cluster, enforce_csrf):
    from django.middleware.csrf import get_token
    from django.test import Client, RequestFactory

    from tests.support.factories import make_user

    client = Client(enforce_csrf_checks=enforce_csrf)
    client.force_login(make_user("admin"))  # package changes need admin (issue 9)
    headers = {}
    if enforce_csrf:
        token = get_token(RequestFactory().get("/"))
        client.cookies["csrftoken"] = token
        headers["HTTP_X_CSRFTOKEN"] = token
    libs = write_rpms(TARGET, tmp_path)[1]
    data, content_type = multipart(libs)
    response = client.generic(
        "POST", f"/clusters/{cluster.name}/api/v1/upgrade/package", data=data, content_type=content_type, **headers
    )
    assert response.status_code == 200, response.content
    assert response.json()["data"]["Name"] == "oceanbase-ce-libs"
