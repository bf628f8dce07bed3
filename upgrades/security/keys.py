"""Server key material, none of it derived from SECRET_KEY (rotating SECRET_KEY breaks no token or secret):

* The API's RSA key pair: 1024-bit (obshell's KEY_SIZE since 4.4.2), created once for all web processes and
  stored encrypted with the field key.
* Field encryption: Fernet under FIELD_ENCRYPTION_KEY (MultiFernet: the first key encrypts, every key
  decrypts), for secrets at rest (the RSA private key, agent passwords).
* Digests of API tokens and login links: HMAC-SHA256 under TOKEN_DIGEST_KEY (the first key digests, the
  others still verify). Digests made before this key existed were keyed from SECRET_KEY; they are still
  verified under SECRET_KEY and SECRET_KEY_FALLBACKS, and a token so verified is re-digested under
  TOKEN_DIGEST_KEY on that use (a digest cannot be re-keyed without the token, which is never stored).
"""

import base64
import threading

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.crypto import salted_hmac

from upgrades.models import RsaKeyPair

KEY_SIZE = 1024
KEY_NAME = "api"

_lock = threading.Lock()
_cached = None  # (pk, private key)


class FieldDecryptError(Exception):
    """A stored secret that none of the FIELD_ENCRYPTION_KEY keys opens."""


def _fernet():
    return MultiFernet([Fernet(key) for key in settings.FIELD_ENCRYPTION_KEYS])


def field_encrypt(text):
    """A secret as stored: a Fernet token (ASCII) under the first FIELD_ENCRYPTION_KEY."""
    return _fernet().encrypt(text.encode()).decode("ascii")


def field_decrypt(stored):
    try:
        return _fernet().decrypt(stored.encode("ascii")).decode()
    except (InvalidToken, UnicodeError):
        raise FieldDecryptError(
            "a secret stored in the database opens with none of the FIELD_ENCRYPTION_KEY keys "
            "(was a key removed before the secrets were re-encrypted?)"
        ) from None


def field_reencrypt(stored):
    """The same secret under the first key (for rotation: the old keys can then be dropped)."""
    try:
        return _fernet().rotate(stored.encode("ascii")).decode("ascii")
    except InvalidToken:
        raise FieldDecryptError("a stored secret opens with none of the FIELD_ENCRYPTION_KEY keys") from None


def digest(salt, secret):
    """The stored digest of a token or link secret: HMAC-SHA256 under the first TOKEN_DIGEST_KEY."""
    return salted_hmac(salt, secret, secret=settings.TOKEN_DIGEST_KEYS[0], algorithm="sha256").hexdigest()


def digest_candidates(salt, secret):
    """Every digest the secret may be stored under, the current one first: the other TOKEN_DIGEST_KEY keys,
    then the SECRET_KEY-keyed digests of rows made before TOKEN_DIGEST_KEY existed (SECRET_KEY and its
    fallbacks, so a SECRET_KEY rotation done with SECRET_KEY_FALLBACKS still finds them)."""
    keys = [*settings.TOKEN_DIGEST_KEYS, settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    seen = []
    for key in keys:
        value = salted_hmac(salt, secret, secret=key, algorithm="sha256").hexdigest()
        if value not in seen:
            seen.append(value)
    return seen


def _load(row):
    return serialization.load_pem_private_key(field_decrypt(row.private_key_encrypted).encode(), password=None)


def _get_or_create_row():
    row = RsaKeyPair.objects.filter(name=KEY_NAME).first()
    if row is not None:
        return row
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    try:
        with transaction.atomic():
            return RsaKeyPair.objects.create(name=KEY_NAME, private_key_encrypted=field_encrypt(pem))
    except IntegrityError:
        # Another process created it between our read and our insert: everyone uses that one.
        return RsaKeyPair.objects.get(name=KEY_NAME)


def private_key():
    """The key pair, read (or created) once per process: every process reads the same row."""
    global _cached
    with _lock:
        if _cached is None:
            row = _get_or_create_row()
            _cached = (row.pk, _load(row))
        return _cached[1]


def forget_cached_key():
    """For tests that replace the key row: the next call reads the database again."""
    global _cached
    with _lock:
        _cached = None


def public_key_pkcs1_b64():
    """PKCS#1 DER RSAPublicKey in standard base64, as Go's x509.MarshalPKCS1PublicKey gives it."""
    der = private_key().public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
    return base64.b64encode(der).decode()
