"""Building obshell auth headers and encrypted bodies the way SDK 0.0.9 does (spec 2.2, 2.3), for tests that
need to craft or break them on purpose."""

import base64
import json
import os
import time

from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import load_der_public_key

CHUNK = 53


def load_public_key(b64):
    return load_der_public_key(base64.b64decode(b64))


def rsa_encrypt_chunks(public_key, plaintext, chunk=CHUNK):
    blocks = [public_key.encrypt(plaintext[i : i + chunk], padding.PKCS1v15()) for i in range(0, len(plaintext), chunk)]
    return base64.b64encode(b"".join(blocks)).decode()


def aes_encrypt(plaintext, key, iv):
    padder = sym_padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize())


def v2_request(public_key, *, password, uri, body=None, lifetime=60, ts=None, keys=None, extra=None):
    """(headers, encrypted body or b"") for one request; `body` may be a dict (json.dumps'ed) or bytes."""
    key_iv = keys if keys is not None else os.urandom(32)
    if isinstance(body, dict):
        body = json.dumps(body).encode()
    data = aes_encrypt(body, key_iv[:16], key_iv[16:]) if body else b""
    header = {
        "auth": password,
        "ts": ts if ts is not None else str(int(time.time()) + lifetime),
        "uri": uri,
        "keys": base64.b64encode(key_iv).decode(),
    }
    header.update(extra or {})
    value = rsa_encrypt_chunks(public_key, json.dumps(header).encode())
    return {"X-OCS-Header": value}, data


def v1_request(public_key, *, password, lifetime=60, ts=None):
    document = {"password": password, "ts": ts if ts is not None else int(time.time() + lifetime)}
    value = base64.b64encode(public_key.encrypt(json.dumps(document).encode(), padding.PKCS1v15())).decode()
    return {"X-OCS-Auth": value}


def as_meta(headers):
    """Django test-client keyword arguments for HTTP headers."""
    return {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}
