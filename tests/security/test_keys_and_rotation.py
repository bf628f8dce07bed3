"""Token digests and secrets at rest have keys of their own (TOKEN_DIGEST_KEY, FIELD_ENCRYPTION_KEY), so
rotating SECRET_KEY (old key in SECRET_KEY_FALLBACKS, or gone) breaks no token and no secret; the field key
rotates with MultiFernet; the RSA private key is never stored in plaintext; var/ and the SQLite database
are owner-only from their first byte."""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.utils.crypto import salted_hmac

from tests.api.helpers import Api
from upgrades.models import ApiToken, RsaKeyPair
from upgrades.security import keys
from upgrades.security.login_links import link_digest
from upgrades.security.tokens import token_create, token_lookup

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
OLD_SECRET_KEY = "old-secret-key-" + "x" * 40
NEW_SECRET_KEY = "new-secret-key-" + "y" * 40


@pytest.fixture
def fresh_rsa_key():
    keys.forget_cached_key()
    yield
    keys.forget_cached_key()


def _rotate_secret_key(settings, *, keep_old):
    settings.SECRET_KEY = NEW_SECRET_KEY
    settings.SECRET_KEY_FALLBACKS = [OLD_SECRET_KEY] if keep_old else []


@pytest.mark.parametrize("keep_old", [True, False], ids=["with-fallbacks", "old-key-gone"])
def test_a_token_still_authenticates_after_secret_key_rotation(client, cluster, settings, keep_old, fresh_rsa_key):
    settings.SECRET_KEY = OLD_SECRET_KEY
    _, secret = token_create(cluster=cluster, label="ci")
    _rotate_secret_key(settings, keep_old=keep_old)
    assert token_lookup(secret) is not None
    response = Api(client, secret).get("/api/v1/ob/info")
    assert response.status_code == 200, response.content
    assert response.json()["data"]["obcluster_info"]["name"] == cluster.name


@pytest.mark.parametrize("keep_old", [True, False], ids=["with-fallbacks", "old-key-gone"])
def test_secrets_at_rest_still_decrypt_after_secret_key_rotation(settings, keep_old, fresh_rsa_key):
    settings.SECRET_KEY = OLD_SECRET_KEY
    stored = keys.field_encrypt("agent password")
    public = keys.public_key_pkcs1_b64()
    _rotate_secret_key(settings, keep_old=keep_old)
    keys.forget_cached_key()
    assert keys.field_decrypt(stored) == "agent password"
    assert keys.public_key_pkcs1_b64() == public  # the stored RSA key still opens


def test_the_field_key_rotates_with_multifernet(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    stored = keys.field_encrypt("webhook secret")
    settings.FIELD_ENCRYPTION_KEYS = [new, old]  # the new key first: it encrypts, both decrypt
    assert keys.field_decrypt(stored) == "webhook secret"
    rotated = keys.field_reencrypt(stored)
    settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key dropped after re-encryption
    assert keys.field_decrypt(rotated) == "webhook secret"
    with pytest.raises(keys.FieldDecryptError):
        keys.field_decrypt(stored)


def test_rotate_field_encryption_reencrypts_the_rsa_key(settings, fresh_rsa_key):
    from django.core.management import call_command

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    public = keys.public_key_pkcs1_b64()
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_field_encryption")
    settings.FIELD_ENCRYPTION_KEYS = [new]
    keys.forget_cached_key()
    assert keys.public_key_pkcs1_b64() == public


def test_a_digest_made_under_secret_key_is_verified_then_redigested(cluster, settings):
    """Rows made before TOKEN_DIGEST_KEY existed: found under SECRET_KEY (or a fallback), re-keyed on use."""
    settings.SECRET_KEY = OLD_SECRET_KEY
    row, secret = token_create(cluster=cluster, label="legacy")
    legacy = salted_hmac("upgrades.security.tokens.ApiToken.digest", secret, algorithm="sha256").hexdigest()
    ApiToken.objects.filter(pk=row.pk).update(digest=legacy)
    _rotate_secret_key(settings, keep_old=True)
    assert token_lookup(secret).pk == row.pk
    row.refresh_from_db()
    assert row.digest != legacy
    settings.SECRET_KEY_FALLBACKS = []  # the old SECRET_KEY retired: the re-digested row needs it no more
    assert token_lookup(secret).pk == row.pk


def test_digests_do_not_depend_on_secret_key(settings):
    before = link_digest("a secret")
    _rotate_secret_key(settings, keep_old=False)
    assert link_digest("a secret") == before


def test_the_rsa_private_key_is_not_stored_in_plaintext(fresh_rsa_key):
    RsaKeyPair.objects.all().delete()
    keys.public_key_pkcs1_b64()
    (row,) = RsaKeyPair.objects.values()
    for value in row.values():
        assert "PRIVATE KEY" not in str(value)
        assert "MII" not in str(value)  # no DER in base64 either


def test_the_migration_encrypts_an_existing_plaintext_key(fresh_rsa_key):
    import importlib

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from django.apps import apps

    migration = importlib.import_module("upgrades.migrations.0008_keys_and_token_scope")
    RsaKeyPair.objects.all().delete()
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    RsaKeyPair.objects.create(name=keys.KEY_NAME, private_key_encrypted=pem)  # as 0004 left it
    migration.encrypt_private_keys(apps, None)
    stored = RsaKeyPair.objects.get().private_key_encrypted
    assert "PRIVATE KEY" not in stored and keys.field_decrypt(stored) == pem
    migration.encrypt_private_keys(apps, None)  # running again changes nothing
    assert RsaKeyPair.objects.get().private_key_encrypted == stored


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_var_and_its_secrets_are_owner_only_from_the_first_byte(tmp_path):
    """A fresh start under a permissive umask: var/, its keys and the SQLite database (and its WAL) are
    owner-only, and were so before anything was written into them."""
    var = tmp_path / "var"
    script = (
        "import os, django, json\n"
        "os.umask(0)\n"
        "django.setup()\n"
        "from django.db import connection\n"
        "with connection.cursor() as cursor:\n"
        "    cursor.execute('CREATE TABLE t (x int)')\n"
        "    cursor.execute('INSERT INTO t VALUES (1)')\n"
        "print(json.dumps(sorted(os.listdir(os.environ['VAR_DIR']))))\n"
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "SECRET_KEY", "FIELD_ENCRYPTION_KEY", "TOKEN_DIGEST_KEY", "REDIS_URL")
    }
    env.update(DJANGO_SETTINGS_MODULE="dashboard.settings", VAR_DIR=str(var))
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert run.returncode == 0, run.stderr
    listed = json.loads(run.stdout.strip().splitlines()[-1])
    assert {"secret_key", "field_encryption_key", "token_digest_key", "db.sqlite3"} <= set(listed)
    assert _mode(var) == 0o700
    for name in listed:
        path = var / name
        if path.is_file():
            assert _mode(path) == 0o600, f"{name} is {oct(_mode(path))}"


def test_a_private_file_is_0600_before_its_secret_is_written(tmp_path):
    from dashboard.settings import private_file

    old = os.umask(0)
    try:
        path = tmp_path / "key"
        seen = []

        def make():
            seen.append((_mode(path), path.read_text()))
            return "the secret"

        assert private_file(path, make) == "the secret"
    finally:
        os.umask(old)
    assert seen == [(0o600, "")]
    assert _mode(path) == 0o600


def test_rotate_field_encryption_reencrypts_real_cluster_passwords(settings, cluster):
    from django.core.management import call_command

    from upgrades.security.keys import field_decrypt, field_encrypt

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    cluster.ob_password_encrypted = field_encrypt("root@sys secret")
    cluster.agent_password_encrypted = field_encrypt("agent secret")
    cluster.save()
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_field_encryption")
    settings.FIELD_ENCRYPTION_KEYS = [new]
    cluster.refresh_from_db()
    assert field_decrypt(cluster.ob_password_encrypted) == "root@sys secret"
    assert field_decrypt(cluster.agent_password_encrypted) == "agent secret"
