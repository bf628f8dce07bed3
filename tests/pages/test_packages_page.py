"""/packages/: the store's rows with sizes, hashes and dep-file flag; admins upload (streamed) and delete."""

import pytest

from tests.support.packages import add_package
from tests.support.paths import shipped_dep_yaml
from upgrades.demo.rpms import write_oceanbase_rpms
from upgrades.models import AuditEntry, Package

pytestmark = pytest.mark.django_db

DEP_YAML = shipped_dep_yaml()


@pytest.fixture
def rpm_path(tmp_path):
    paths = write_oceanbase_rpms(
        tmp_path / "rpms", edition="community", version="4.2.1.1", release="101000012023110109.el7", dep_yaml=DEP_YAML
    )
    return paths[0]


def upload(client, path):
    with open(path, "rb") as handle:
        return client.post("/packages/upload/", {"file": handle})


def test_lists_packages_with_hashes_and_dep_flag(client, as_role):
    target = add_package("oceanbase-ce", "4.2.1.1", "101000012023110109.el7", dep_yaml=DEP_YAML)
    add_package("oceanbase-ce-libs", "4.2.1.1", "101000012023110109.el7")
    as_role("viewer")
    html = client.get("/packages/").content.decode()
    assert "oceanbase-ce-libs" in html and "101000012023110109.el7" in html and "x86_64" in html
    assert target.md5[:10] in html and target.sha256[:12] in html
    assert "50.0 MiB" in html
    assert html.count("badge-ok") == 1
    assert "Upload a package" not in html, "viewers get no upload form"


def test_admin_uploads_an_rpm(client, as_role, rpm_path):
    as_role("admin")
    response = upload(client, rpm_path)
    assert response.status_code == 302
    package = Package.objects.get()
    assert package.name == "oceanbase-ce" and package.release_distribution == "101000012023110109.el7"
    assert package.upgrade_dep_yaml
    page = client.get("/packages/").content.decode()
    assert "Uploaded oceanbase-ce-4.2.1.1-101000012023110109.el7.x86_64.rpm" in page
    assert upload(client, rpm_path).status_code == 302
    assert "already in the store" in client.get("/packages/").content.decode()
    assert Package.objects.count() == 1


def test_a_corrupt_upload_is_refused_with_its_error_shown(client, as_role, tmp_path):
    as_role("admin")
    bogus = tmp_path / "oceanbase-ce-4.2.1.1-1.el7.x86_64.rpm"
    bogus.write_bytes(b"this is not an rpm" * 100)
    response = upload(client, bogus)
    html = response.content.decode()
    assert response.status_code == 400
    assert "Upload refused" in html and 'class="errcode"' in html
    assert Package.objects.count() == 0
    assert AuditEntry.objects.filter(action="package.upload", outcome=AuditEntry.Outcome.REFUSED).exists()


def test_an_unsupported_package_name_is_refused(client, as_role, tmp_path):
    from upgrades.packages.rpmwriter import write_rpm

    path = write_rpm(
        tmp_path / "mysql-8.0.0-1.el7.x86_64.rpm", name="mysql", version="8.0.0", release="1.el7",
        files={"/usr/bin/mysql": b"x"},
    )  # fmt: skip
    as_role("admin")
    html = upload(client, path).content.decode()
    assert "OB.Package.Name.NotSupport" in html
    assert Package.objects.count() == 0


def test_upload_and_delete_need_admin(client, as_role, rpm_path):
    package = add_package("oceanbase-ce", "4.2.1.1", "101000012023110109.el7")
    as_role("operator")
    assert upload(client, rpm_path).status_code == 403
    assert client.post(f"/packages/{package.pk}/delete/").status_code == 403
    assert Package.objects.count() == 1


def test_admin_deletes_a_package(client, as_role):
    package = add_package("oceanbase-ce", "4.2.1.1", "101000012023110109.el7")
    as_role("admin")
    assert client.post(f"/packages/{package.pk}/delete/").status_code == 302
    assert not Package.objects.exists()
    assert AuditEntry.objects.filter(action="package.delete").exists()


def test_upload_needs_csrf(rpm_path):
    from django.test import Client

    from tests.support.factories import make_user

    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user("admin"))
    assert upload(client, rpm_path).status_code == 403
    assert Package.objects.count() == 0


def test_the_upload_script_gets_json_with_where_to_go(client, as_role, rpm_path):
    as_role("admin")
    with open(rpm_path, "rb") as handle:
        response = client.post("/packages/upload/", {"file": handle}, headers={"X-Requested-With": "fetch"})
    assert response.status_code == 200 and response.json() == {"redirect": "/packages/"}
    assert "Uploaded oceanbase-ce" in client.get("/packages/").content.decode()
