"""With PACKAGE_KEYRING set, only RPMs signed by one of its keys enter the store, and each shows its signer
(issue 9). The keys are made at test time with gpg in a temporary GNUPGHOME, the fixture RPMs signed with
rpmsign; without those tools the tests skip with the reason (and fail under CI=true)."""

import os
import shutil
import subprocess

import pytest
from django.core.management import call_command

from tests.api.helpers import multipart
from tests.api.signing import as_meta, v2_request
from tests.packages.helpers import stored_files
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.environment import missing_service
from tests.support.factories import make_user
from tests.support.packages import write_rpms
from upgrades.models import AuditEntry, Package

pytestmark = pytest.mark.django_db
UPLOAD = "/api/v1/upgrade/package"
TOOLS = ("gpg", "rpmsign", "rpmkeys", "rpm")
SIGNER = "Package Signer <signer@example.com>"
STRANGER = "Someone Else <stranger@example.com>"


@pytest.fixture(scope="module")
def gnupg(tmp_path_factory):
    """A GNUPGHOME holding two throwaway keys (no passphrase): SIGNER's and STRANGER's."""
    absent = [tool for tool in TOOLS if shutil.which(tool) is None]
    if absent:
        missing_service(f"signing tests need {', '.join(absent)} (apt-get install gnupg rpm)")
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    for user in (SIGNER, STRANGER):
        name, _, mail = user.partition(" <")
        params = f"%no-protection\nKey-Type: RSA\nKey-Length: 2048\nName-Real: {name}\nName-Email: {mail[:-1]}\nExpire-Date: 0\n%commit\n"
        subprocess.run(
            ["gpg", "--batch", "--gen-key"],
            input=params,
            text=True,
            env={**os.environ, "GNUPGHOME": str(home)},
            check=True,
            capture_output=True,
        )
    yield home
    # gpg started an agent for this home: stop it.
    subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME": str(home)}, check=False)


def _export(gnupg, user, path):
    armored = subprocess.run(
        ["gpg", "--armor", "--export", user],
        env={**os.environ, "GNUPGHOME": str(gnupg)},
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "BEGIN PGP PUBLIC KEY BLOCK" in armored
    path.write_text(armored)
    return path


def _sign(gnupg, rpm, user, target):
    shutil.copyfile(rpm, target)
    mail = user.partition("<")[2].rstrip(">")
    subprocess.run(
        [
            "rpmsign",
            *("--define", f"__gpg {shutil.which('gpg')}"),
            *("--define", f"_gpg_path {gnupg}"),
            *("--define", f"_gpg_name {mail}"),
            *("--addsign", str(target)),
        ],
        env={**os.environ, "GNUPGHOME": str(gnupg)},
        check=True,
        capture_output=True,
    )
    assert target.read_bytes() != rpm.read_bytes()
    return target


@pytest.fixture
def rpms(tmp_path, gnupg):
    """oceanbase-ce-libs of TARGET: unsigned, signed by SIGNER, signed by STRANGER."""
    unsigned = write_rpms(TARGET, tmp_path / "rpms")[1]
    return {
        "unsigned": unsigned,
        "signed": _sign(gnupg, unsigned, SIGNER, tmp_path / "signed.rpm"),
        "stranger": _sign(gnupg, unsigned, STRANGER, tmp_path / "stranger.rpm"),
    }


@pytest.fixture
def keyring(tmp_path, gnupg, settings):
    settings.PACKAGE_KEYRING = str(_export(gnupg, SIGNER, tmp_path / "keyring.asc"))
    return settings.PACKAGE_KEYRING


def _api_upload(api, path):
    data, content_type = multipart(path)
    headers, encrypted = v2_request(api.public_key, password=api.password, uri=UPLOAD, body=data)
    return api.client.generic("POST", UPLOAD, data=encrypted, content_type=content_type, **as_meta(headers))


def test_a_signed_rpm_is_accepted_and_shows_its_signer(keyring, rpms, client):
    call_command("add_package", str(rpms["signed"]))
    package = Package.objects.get()
    assert SIGNER in package.signer and "key " in package.signer
    client.force_login(make_user("viewer"))
    page = client.get("/packages/").content.decode()
    assert "signer@example.com" in page


def test_an_unsigned_rpm_is_refused_with_a_keyring(keyring, rpms, api, settings):
    response = _api_upload(api, rpms["unsigned"])
    assert response.status_code == 400, response.content
    assert response.json()["error"]["errCode"] == "OB.Package.Unsigned"
    assert Package.objects.count() == 0 and stored_files(settings) == []
    assert AuditEntry.objects.filter(action="package.upload", outcome="refused").count() == 1


def test_an_rpm_signed_by_another_key_is_refused(keyring, rpms, client, settings):
    client.force_login(make_user("admin"))
    with open(rpms["stranger"], "rb") as handle:
        response = client.post("/packages/upload/", {"file": handle})
    assert response.status_code == 400
    page = response.content.decode()
    assert "OB.Package.Signature.Invalid" in page and "NOKEY" in page
    assert Package.objects.count() == 0 and stored_files(settings) == []


def test_a_damaged_signature_is_refused(keyring, rpms, tmp_path):
    damaged = tmp_path / "damaged.rpm"
    data = bytearray(rpms["signed"].read_bytes())
    # The signature header follows the 96-byte lead: magic (8 bytes), entry count, store size, 16-byte
    # entries, then the store. Flip a byte near the end of the RSA header signature packet (tag 268), whose
    # digests and md5 stay intact.
    count = int.from_bytes(data[104:108], "big")
    store = 112 + 16 * count
    entries = [data[112 + 16 * i : 128 + 16 * i] for i in range(count)]
    rsa = next(e for e in entries if int.from_bytes(e[0:4], "big") == 268)
    offset, size = int.from_bytes(rsa[8:12], "big"), int.from_bytes(rsa[12:16], "big")
    data[store + offset + size - 8] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(Exception, match="OB.Package.Signature.Invalid"):
        call_command("add_package", str(damaged))
    assert Package.objects.count() == 0


def test_a_keyring_of_several_keys_accepts_each(tmp_path, gnupg, rpms, settings):
    keyring = tmp_path / "both.asc"
    keyring.write_text(
        _export(gnupg, SIGNER, tmp_path / "a.asc").read_text()
        + _export(gnupg, STRANGER, tmp_path / "b.asc").read_text()
    )
    settings.PACKAGE_KEYRING = str(keyring)
    call_command("add_package", str(rpms["stranger"]))
    assert STRANGER in Package.objects.get().signer


def test_the_keyring_is_imported_once_until_it_changes(keyring, rpms, monkeypatch, request):
    from upgrades.packages import signatures

    imports = []
    real_import = signatures._import
    cache = {}
    monkeypatch.setattr(signatures, "_cache", cache)
    request.addfinalizer(lambda: [shutil.rmtree(k.dbpath, ignore_errors=True) for k in cache.values()])
    monkeypatch.setattr(signatures, "_import", lambda *a: imports.append(a) or real_import(*a))
    for _ in range(2):
        assert signatures.verify_signature(rpms["signed"], filename="x.rpm")
    assert len(imports) == 1, "the second check reuses the imported keyring"
    stamp = os.stat(keyring).st_mtime_ns + 10**9
    os.utime(keyring, ns=(stamp, stamp))
    assert signatures.verify_signature(rpms["signed"], filename="x.rpm")
    assert len(imports) == 2, "a changed keyring file is imported again"


def test_signed_and_unsigned_copies_are_one_package(rpms, settings):
    """Signing does not change tag 1004 (the md5 of header+payload): the signed copy is the same package, and
    the first upload stays."""
    settings.PACKAGE_KEYRING = ""
    call_command("add_package", str(rpms["unsigned"]))
    first = Package.objects.get()
    call_command("add_package", str(rpms["signed"]))
    assert list(Package.objects.values_list("pk", "sha256")) == [(first.pk, first.sha256)]


def test_an_unusable_keyring_refuses_every_upload(tmp_path, settings):
    """A keyring that is set but missing (or holds no key) fails closed: nothing enters the store."""
    rpm = write_rpms(TARGET, tmp_path / "rpms")[1]
    for keyring in (tmp_path / "missing.asc", tmp_path / "empty.asc"):
        if keyring.name == "empty.asc":
            keyring.write_text("not a key\n")
        settings.PACKAGE_KEYRING = str(keyring)
        with pytest.raises(Exception, match="OB.Package.Keyring.Unavailable"):
            call_command("add_package", str(rpm))
    assert Package.objects.count() == 0 and stored_files(settings) == []
