"""Packages are fleet-wide, so their identity is immutable and who may change them is narrow (issue 9).

- Identity is name-version-release-arch plus md5: another cluster's token (or anyone) uploading another file
  under a stored identity is refused with 400 OB.Package.IdentityConflict, nothing stored, audited; the
  database holds one row per identity even when two uploads race.
- A token lists its cluster's uploads plus the fleet-wide store (sessions' and commands' uploads) and deletes
  only its cluster's uploads.
- A session needs admin to upload or delete, through the API as through the pages.
- Nobody deletes what an unfinished DAG needs, the packages page included.
"""

import threading

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connections, transaction
from django.test import Client

from tests.api.helpers import Api, multipart
from tests.api.signing import as_meta, v2_request
from tests.packages.helpers import stored_files
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster, make_user
from tests.support.migrations import migrate_to
from tests.support.packages import write_rpms
from upgrades.models import AuditEntry, Package
from upgrades.security.tokens import token_create

pytestmark = pytest.mark.django_db
UPLOAD = "/api/v1/upgrade/package"
LISTING = "/api/v1/upgrade/package/info"
CONFLICT = "OB.Package.IdentityConflict"


def _upload(api, path):
    data, content_type = multipart(path)
    headers, encrypted = v2_request(api.public_key, password=api.password, uri=UPLOAD, body=data)
    return api.client.generic("POST", UPLOAD, data=encrypted, content_type=content_type, **as_meta(headers))


def _listing(api):
    response = api.get(LISTING)
    assert response.status_code == 200, response.content
    return {(p["name"], p["pkg_id"]) for p in response.json()["data"]["contents"]}


@pytest.fixture
def other_api(client):
    """A token of another cluster (same edition), signing with its own password."""
    _row, secret = token_create(cluster=make_cluster(zones=1), label="other")
    return Api(client, secret)


@pytest.fixture
def libs(tmp_path):
    """The same identity (oceanbase-ce-libs of TARGET) twice, as two different files (different md5)."""
    first = write_rpms(TARGET, tmp_path / "a")[1]
    second = write_rpms(TARGET, tmp_path / "b", binary_size=80 * 1024)[1]
    assert first.name == second.name and first.read_bytes() != second.read_bytes()
    return first, second


def test_another_clusters_token_cannot_replace_a_package(api, other_api, libs, settings):
    original, replacement = libs
    assert _upload(api, original).status_code == 200
    stored = Package.objects.get()
    files = stored_files(settings)

    response = _upload(other_api, replacement)

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["errCode"] == CONFLICT and stored.md5 in error["message"]
    assert list(Package.objects.values_list("pk", "md5")) == [(stored.pk, stored.md5)]
    assert stored_files(settings) == files, "neither the file nor a temporary copy is kept"
    refusal = AuditEntry.objects.get(action="package.upload", outcome="refused")
    assert refusal.detail["errCode"] == CONFLICT and refusal.actor_token is not None


def test_the_same_cluster_and_the_command_cannot_replace_it_either(api, libs, settings):
    original, replacement = libs
    assert _upload(api, original).status_code == 200
    assert _upload(api, replacement).json()["error"]["errCode"] == CONFLICT
    with pytest.raises(Exception, match=CONFLICT):
        call_command("add_package", str(replacement))
    assert Package.objects.count() == 1


def test_the_database_holds_one_row_per_identity():
    fields = dict(
        name="oceanbase-ce",
        version="4.3.0.1",
        release="100000242024032211",
        distribution="el7",
        release_distribution="100000242024032211.el7",
        arch="x86_64",
        size=1,
        filename="x.rpm",
    )
    Package.objects.create(md5="a" * 32, sha256="a" * 64, file="rpms/a", **fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        Package.objects.create(md5="b" * 32, sha256="b" * 64, file="rpms/b", **fields)


@pytest.mark.django_db(transaction=True)
def test_an_upload_whose_identity_check_races_is_still_refused(libs, settings, monkeypatch):
    """The conflicting upload's identity check ran before the first upload committed: the constraint catches
    it and the answer is the same refusal, with nothing of the loser stored."""
    from upgrades.services import packages as package_service

    original, replacement = libs
    call_command("add_package", str(original))
    files = stored_files(settings)
    real_filter = package_service.Package.objects.filter
    missed = []

    def filter_missing_the_winner(*args, **kwargs):
        if "release_distribution" in kwargs and not missed:
            missed.append(kwargs)
            return real_filter(pk=-1)
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(package_service.Package.objects, "filter", filter_missing_the_winner)
    with pytest.raises(Exception, match=CONFLICT):
        call_command("add_package", str(replacement))
    monkeypatch.undo()
    assert missed and Package.objects.count() == 1
    assert stored_files(settings) == files


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_conflicting_uploads_store_one(libs, settings):
    """Two tokens upload different files of one identity at the same moment, through the API."""
    apis = []
    for index in range(2):
        _row, secret = token_create(cluster=make_cluster(zones=1), label=f"racer {index}")
        apis.append(secret)
    barrier = threading.Barrier(2)
    results = [None, None]

    def racer(index):
        try:
            api = Api(Client(), apis[index])
            barrier.wait(timeout=30)
            results[index] = _upload(api, libs[index])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=racer, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 400], [r.content for r in results]
    loser = next(r for r in results if r.status_code == 400)
    assert loser.json()["error"]["errCode"] == CONFLICT
    assert Package.objects.count() == 1
    assert len([f for f in stored_files(settings) if f.parts[0] == "rpms"]) == 1


def test_a_token_lists_its_clusters_uploads_and_the_fleet_wide_store(api, other_api, tmp_path):
    ce, libs = write_rpms(TARGET, tmp_path / "rpms")
    assert _upload(api, libs).status_code == 200
    ours = Package.objects.get(name="oceanbase-ce-libs")
    call_command("add_package", str(ce))  # a command's upload: the fleet-wide store
    shared = Package.objects.get(name="oceanbase-ce")

    assert _listing(api) == {("oceanbase-ce-libs", ours.pk), ("oceanbase-ce", shared.pk)}
    assert _listing(other_api) == {("oceanbase-ce", shared.pk)}, "another cluster's upload is not listed"


def test_a_token_deletes_only_its_clusters_uploads(api, other_api, tmp_path):
    ce, libs = write_rpms(TARGET, tmp_path / "rpms")
    assert _upload(api, libs).status_code == 200
    ours = Package.objects.get(name="oceanbase-ce-libs")
    call_command("add_package", str(ce))
    shared = Package.objects.get(name="oceanbase-ce")

    foreign = other_api.call("DELETE", f"{UPLOAD}/{ours.pk}")
    unknown = other_api.call("DELETE", f"{UPLOAD}/999999")
    # Answered as an id that names nothing (obshell: no row deleted, success): the package is not even named.
    assert foreign.status_code == unknown.status_code == 200
    assert foreign.json()["successful"] is unknown.json()["successful"] is True
    fleet_wide = api.call("DELETE", f"{UPLOAD}/{shared.pk}")
    assert fleet_wide.status_code == 401
    assert fleet_wide.json()["error"]["errCode"] == "Security.User.PermissionDenied"
    assert set(Package.objects.values_list("pk", flat=True)) == {ours.pk, shared.pk}
    assert AuditEntry.objects.filter(action="package.delete", outcome="refused").count() == 2

    assert api.call("DELETE", f"{UPLOAD}/{ours.pk}").status_code == 200
    assert not Package.objects.filter(pk=ours.pk).exists()


def _session(role):
    client = Client()
    client.force_login(make_user(role))
    return client


def test_an_operator_session_cannot_upload_or_delete_through_the_api(cluster, tmp_path):
    ce, libs = write_rpms(TARGET, tmp_path / "rpms")
    call_command("add_package", str(ce))
    stored = Package.objects.get()
    operator = _session("operator")
    data, content_type = multipart(libs)

    upload = operator.generic("POST", f"/clusters/{cluster.name}{UPLOAD}", data=data, content_type=content_type)
    delete = operator.generic("DELETE", f"/clusters/{cluster.name}{UPLOAD}/{stored.pk}")

    for response in (upload, delete):
        assert response.status_code == 401, response.content
        assert response.json()["error"]["errCode"] == "Security.User.PermissionDenied"
    assert list(Package.objects.values_list("pk", flat=True)) == [stored.pk]
    admin = _session("admin")
    assert (
        admin.generic("POST", f"/clusters/{cluster.name}{UPLOAD}", data=data, content_type=content_type).status_code
        == 200
    )
    assert admin.generic("DELETE", f"/clusters/{cluster.name}{UPLOAD}/{stored.pk}").status_code == 200


def test_the_packages_page_refuses_to_delete_what_an_unfinished_dag_needs(cluster, tmp_path):
    for path in write_rpms(TARGET, tmp_path / "rpms"):
        call_command("add_package", str(path))
    dag = start_upgrade(cluster, TARGET)
    needed = Package.objects.get(name="oceanbase-ce")
    admin = _session("admin")

    response = admin.post(f"/packages/{needed.pk}/delete/", follow=True)

    assert Package.objects.filter(pk=needed.pk).exists()
    page = response.content.decode()
    assert "OB.Package.InUse" in page and dag.generic_id in page
    assert AuditEntry.objects.filter(action="package.delete", outcome="refused", dag=dag).exists()


MIGRATION = "0006_package_identity"


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_the_newest_row_of_a_duplicated_identity():
    """Rows stored before identities were unique: the newest (what every lookup resolved to) stays."""

    old = migrate_to("0005_auth_failure_tally")
    try:
        OldPackage = old.get_model("upgrades", "Package")
        common = dict(
            name="oceanbase-ce",
            version="4.3.0.1",
            release="100000242024032211",
            distribution="el7",
            release_distribution="100000242024032211.el7",
            arch="x86_64",
            size=1,
            filename="x.rpm",
        )
        older = OldPackage.objects.create(md5="a" * 32, sha256="a" * 64, file="rpms/a", **common)
        newer = OldPackage.objects.create(md5="b" * 32, sha256="b" * 64, file="rpms/b", **common)
        other = OldPackage.objects.create(
            md5="c" * 32, sha256="c" * 64, file="rpms/c", **{**common, "name": "oceanbase-ce-libs"}
        )
        migrate_to(MIGRATION)
        assert set(Package.objects.values_list("pk", flat=True)) == {newer.pk, other.pk}
    finally:
        migrate_to()
    assert set(Package.objects.values_list("pk", flat=True)) == {newer.pk, other.pk}
    assert not Package.objects.filter(pk=older.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_the_migration_refuses_to_drop_a_row_an_unfinished_dag_needs(cluster):
    """An older duplicate that an unfinished DAG's plan names is not silently removed: the migration stops."""
    from tests.support.packages import stock_packages

    needed = stock_packages(TARGET)
    start_upgrade(cluster, TARGET)
    old = migrate_to("0005_auth_failure_tally")
    try:
        OldPackage = old.get_model("upgrades", "Package")
        row = OldPackage.objects.get(pk=needed.pk)
        newer = OldPackage.objects.create(
            **{
                field.name: getattr(row, field.name)
                for field in OldPackage._meta.concrete_fields
                if field.name not in ("id", "md5", "sha256", "file")
            },
            md5="d" * 32,
            sha256="d" * 64,
            file="rpms/d",
        )
        with pytest.raises(RuntimeError, match="needed by an unfinished DAG"):
            migrate_to(MIGRATION)
        OldPackage.objects.filter(pk=newer.pk).delete()
    finally:
        migrate_to()
    assert Package.objects.filter(pk=needed.pk).exists()
