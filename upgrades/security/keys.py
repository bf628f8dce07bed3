"""The API's RSA key pair: 1024-bit (obshell's KEY_SIZE since 4.4.2), created once for all web processes."""

import base64
import threading

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.db import IntegrityError, transaction

from upgrades.models import RsaKeyPair

KEY_SIZE = 1024
KEY_NAME = "api"

_lock = threading.Lock()
_cached = None  # (pk, private key)


def _load(row):
    return serialization.load_pem_private_key(row.private_key_pem.encode(), password=None)


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
            return RsaKeyPair.objects.create(name=KEY_NAME, private_key_pem=pem)
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
