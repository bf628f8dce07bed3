"""obshell's wire crypto (spec 2.2): RSA PKCS#1 v1.5 blocks for the auth header, AES-128-CBC for bodies."""

import base64
import binascii
import json

from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from upgrades.errors import ObshellError, unauthorized
from upgrades.security.keys import private_key

AES_KEY_SIZE = 16
BLOCK = 16
STREAM_CHUNK = 256 * 1024  # base64 characters per read, a multiple of 4


class HeaderDecryptError(Exception):
    pass


def header_decrypt_failed(detail):
    # The legacy code 1 makes the SDK re-fetch the key and resend (spec 7).
    return unauthorized("Security.Authentication.Header.DecryptFailed", f"Decrypt header failed: {detail}", code=1)


def rsa_decrypt(value):
    """Base64, then each key-sized block decrypted on its own and the plaintexts joined."""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise HeaderDecryptError("illegal base64 data") from None
    key = private_key()
    size = key.key_size // 8
    if not raw or len(raw) % size:
        raise HeaderDecryptError("crypto/rsa: decryption error")
    try:
        return b"".join(key.decrypt(raw[i : i + size], padding.PKCS1v15()) for i in range(0, len(raw), size))
    except ValueError:
        raise HeaderDecryptError("crypto/rsa: decryption error") from None


def decrypt_json_header(value):
    """The decrypted header as a dict with lower-cased keys (Go matches JSON keys case-insensitively)."""
    try:
        document = json.loads(rsa_decrypt(value).decode("utf-8"))
    except HeaderDecryptError as exc:
        raise header_decrypt_failed(str(exc)) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise header_decrypt_failed(f"invalid json: {exc}") from None
    if not isinstance(document, dict):
        raise header_decrypt_failed("json: cannot unmarshal into Go value of type secure.HttpHeader")
    return {str(k).lower(): v for k, v in document.items()}


def split_keys(keys):
    """`keys` is base64 of AES key || IV; Go unmarshals it into []byte."""
    if not isinstance(keys, str):
        raise header_decrypt_failed("json: cannot unmarshal keys into Go struct field HttpHeader.Keys of type []uint8")
    try:
        raw = base64.b64decode(keys, validate=True)
    except (binascii.Error, ValueError):
        raise header_decrypt_failed("illegal base64 data in keys") from None
    return raw


def _aes_key_iv(raw):
    if len(raw) != 2 * AES_KEY_SIZE:
        raise ObshellError("Request.Body.Decrypt.AES.KeyAndIv.Invalid", "Invalid AES key and iv", status=500)
    return raw[:AES_KEY_SIZE], raw[AES_KEY_SIZE:]


def _length_invalid():
    return ObshellError(
        "Request.Body.Decrypt.AES.ContentLength.Invalid", "Invalid content length of AES encrypted body", status=500
    )


def _body_undecodable():
    return unauthorized("Common.Unauthorized", "Unauthorized: decrypt request body failed")


def _strip_padding(last_block):
    # obshell strips as many bytes as the last one says and does not check them; we refuse impossible values.
    count = last_block[-1]
    if count == 0 or count > BLOCK:
        raise _body_undecodable()
    return last_block[:-count]


def aes_decrypt(body, keys_raw):
    """Decrypt a whole base64 AES-128-CBC body held in memory."""
    key, iv = _aes_key_iv(keys_raw)
    try:
        cipher_text = base64.b64decode(body.replace(b"\r", b"").replace(b"\n", b""), validate=True)
    except (binascii.Error, ValueError):
        raise _body_undecodable() from None
    if not cipher_text or len(cipher_text) % BLOCK:
        raise _length_invalid()
    plain = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor().update(cipher_text)
    return plain[:-BLOCK] + _strip_padding(plain[-BLOCK:])


def aes_decrypt_stream(source, sink, keys_raw):
    """Decrypt a base64 AES-128-CBC body from `source` (file-like) into `sink` chunk by chunk; returns the
    plaintext size. Memory use is bounded by STREAM_CHUNK whatever the body size."""
    key, iv = _aes_key_iv(keys_raw)
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    pending_text = b""
    held = b""  # the newest plaintext block, kept back until we know whether it is the last (padding)
    total_cipher = 0
    written = 0
    while True:
        chunk = source.read(STREAM_CHUNK)
        if chunk:
            pending_text += chunk.replace(b"\r", b"").replace(b"\n", b"")
        usable = len(pending_text) - len(pending_text) % 4 if chunk else len(pending_text)
        if usable:
            try:
                cipher_text = base64.b64decode(pending_text[:usable], validate=True)
            except (binascii.Error, ValueError):
                raise _body_undecodable() from None
            pending_text = pending_text[usable:]
            total_cipher += len(cipher_text)
            plain = held + decryptor.update(cipher_text)
            cut = len(plain) - BLOCK if len(plain) >= BLOCK else 0
            if cut:
                sink.write(plain[:cut])
                written += cut
            held = plain[cut:]
        if not chunk:
            break
    if total_cipher == 0 or total_cipher % BLOCK or len(held) != BLOCK:
        raise _length_invalid()
    tail = _strip_padding(held)
    sink.write(tail)
    return written + len(tail)
