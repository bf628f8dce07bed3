"""obshell's wire crypto (spec 2.2): RSA PKCS#1 v1.5 blocks for the auth header, AES-128-CBC for bodies; the server
side (decrypting what clients send) and, at the end, the client side (what we send to a real agent)."""

import base64
import binascii
import io
import json
from dataclasses import dataclass

import pybase64
from cryptography.hazmat.primitives import serialization
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


# Headers are short (the SDK's v2 header is 3 blocks); a longer one is refused before any RSA work.
MAX_HEADER_BLOCKS = 16
SDK_CHUNK = 53  # the SDK cuts the JSON into 53-byte chunks whatever the key size (spec 2.2)
PKCS1_OVERHEAD = 11  # obshell agents cut into key bytes - 11


@dataclass(frozen=True)
class DecryptedHeader:
    """An auth header's plaintext, and the RSA ciphertext blocks it came in (the replay cache keys on both)."""

    plaintext: bytes
    blocks: tuple


def canonical_b64decode(value):
    """Standard base64 with padding, in its one canonical spelling: the spare bits of the last character
    zero and exactly the padding the length needs. Any other spelling of the same bytes is refused, so a
    captured header cannot come back looking new."""
    text = value.strip()
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise HeaderDecryptError("illegal base64 data") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise HeaderDecryptError("illegal base64 data (not in canonical form)")
    return raw


def _one_document(plains, key_bytes):
    """The blocks of one header are the consecutive chunks of one document: every block but the last
    decrypts to a full chunk of the same size (the SDK's 53 bytes, or key bytes - 11 as obshell agents cut),
    the last to at most that. This refuses headers spliced from blocks of differently cut headers; blocks
    spliced from headers cut alike are refused by the replay cache, which records every block it accepted."""
    if len(plains) == 1:
        return
    chunk = len(plains[0])
    if chunk not in (SDK_CHUNK, key_bytes - PKCS1_OVERHEAD):
        raise HeaderDecryptError("header blocks do not form one document")
    if any(len(p) != chunk for p in plains[1:-1]) or not 0 < len(plains[-1]) <= chunk:
        raise HeaderDecryptError("header blocks do not form one document")


def rsa_decrypt_header(value):
    """Canonical base64, then each key-sized block decrypted on its own and the plaintexts joined."""
    raw = canonical_b64decode(value)
    key = private_key()
    size = key.key_size // 8
    if not raw or len(raw) % size:
        raise HeaderDecryptError("crypto/rsa: decryption error")
    blocks = tuple(raw[i : i + size] for i in range(0, len(raw), size))
    if len(blocks) > MAX_HEADER_BLOCKS:
        raise HeaderDecryptError(f"header longer than {MAX_HEADER_BLOCKS} blocks")
    try:
        plains = [key.decrypt(block, padding.PKCS1v15()) for block in blocks]
    except ValueError:
        raise HeaderDecryptError("crypto/rsa: decryption error") from None
    _one_document(plains, size)
    return DecryptedHeader(plaintext=b"".join(plains), blocks=blocks)


def rsa_decrypt(value):
    return rsa_decrypt_header(value).plaintext


def decrypt_header(value):
    """(the header as a dict with lower-cased keys, DecryptedHeader). Go matches JSON keys case-insensitively."""
    try:
        decrypted = rsa_decrypt_header(value)
        document = json.loads(decrypted.plaintext.decode("utf-8"))
    except HeaderDecryptError as exc:
        raise header_decrypt_failed(str(exc)) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise header_decrypt_failed(f"invalid json: {str(exc)[:200]}") from None
    if not isinstance(document, dict):
        raise header_decrypt_failed("json: cannot unmarshal into Go value of type secure.HttpHeader")
    return {str(k).lower(): v for k, v in document.items()}, decrypted


def decrypt_json_header(value):
    return decrypt_header(value)[0]


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


# ---- the client side, for talking to a real obshell agent ------------------------------------------------------


def load_agent_public_key(public_key_b64):
    """An agent's `GET /api/v1/secret` key: base64 PKCS#1 DER (spec 2.1); SPKI accepted too, as the SDK does."""
    der = base64.b64decode(public_key_b64)
    try:
        return serialization.load_der_public_key(der)
    except ValueError:
        # PKCS#1 RSAPublicKey: wrap it as PEM "RSA PUBLIC KEY", which cryptography reads as PKCS#1.
        pem = b"-----BEGIN RSA PUBLIC KEY-----\n" + base64.encodebytes(der) + b"-----END RSA PUBLIC KEY-----\n"
        return serialization.load_pem_public_key(pem)


def rsa_encrypt_chunks(public_key, plaintext, chunk=SDK_CHUNK):
    """The auth header's cipher (spec 2.2): PKCS#1 v1.5 over `chunk`-byte pieces, concatenated, base64."""
    blocks = [public_key.encrypt(plaintext[i : i + chunk], padding.PKCS1v15()) for i in range(0, len(plaintext), chunk)]
    return base64.b64encode(b"".join(blocks)).decode("ascii")


def aes_encrypt(plain, keys_raw):
    """base64(AES-128-CBC(PKCS#7(plain))): a request body as obshell expects it."""
    stream = AesEncryptingReader(io.BytesIO(plain), len(plain), keys_raw)
    return stream.read()


def aes_encrypted_length(plain_length):
    padded = (plain_length // BLOCK + 1) * BLOCK
    return 4 * ((padded + 2) // 3)


class AesEncryptingReader:
    """A file-like view of base64(AES-128-CBC(PKCS#7(source))) produced chunk by chunk, with its length known in
    advance (`len()`), so an upload of any size streams with bounded memory and a plain Content-Length.
    Iterating yields the body in whole chunks (what an HTTP client should send: one large write per chunk)."""

    # A multiple of 48 plaintext bytes is a whole number of AES blocks and of base64 quanta, so every chunk but the
    # last encodes on its own and the pieces concatenate to the base64 of the whole.
    CHUNK = 48 * 21846  # just under 1 MiB

    def __init__(self, source, source_length, keys_raw):
        key, iv = _aes_key_iv(keys_raw)
        self._source = source
        self._length = aes_encrypted_length(source_length)
        self._encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        # Reused buffers: encrypting into fresh bytes each chunk costs more than the cipher itself.
        self._plain = bytearray(self.CHUNK + BLOCK)
        self._cipher = bytearray(self.CHUNK + 2 * BLOCK)
        self._chunks = self._encoded_chunks()
        self._out = b""
        self._pos = 0

    def __len__(self):
        return self._length

    def __iter__(self):
        if self._pos < len(self._out):
            yield self._out[self._pos :]
        self._out, self._pos = b"", 0
        yield from self._chunks

    def _fill_plain(self):
        """Up to CHUNK source bytes into the plain buffer (sources may answer short reads); their count. A source
        with `readinto` (a file) reads straight into the buffer: no 1 MiB bytes object made and copied per chunk."""
        filled = 0
        readinto = getattr(self._source, "readinto", None)
        view = memoryview(self._plain)
        while filled < self.CHUNK:
            if readinto is not None:
                count = readinto(view[filled : self.CHUNK])
            else:
                piece = self._source.read(self.CHUNK - filled)
                count = len(piece)
                view[filled : filled + count] = piece
            if not count:
                break
            filled += count
        return filled

    def _encoded_chunks(self):
        plain, cipher = memoryview(self._plain), memoryview(self._cipher)
        while True:
            filled = self._fill_plain()
            if filled == self.CHUNK:
                written = self._encryptor.update_into(plain[:filled], cipher)
                yield pybase64.b64encode(cipher[:written])
                continue
            pad = BLOCK - filled % BLOCK  # PKCS#7: always 1..16 bytes, a whole block when already aligned
            plain[filled : filled + pad] = bytes([pad]) * pad
            written = self._encryptor.update_into(plain[: filled + pad], cipher)
            self._encryptor.finalize()
            yield pybase64.b64encode(cipher[:written])
            return

    def read(self, size=-1):
        """Up to `size` bytes (all that is left for -1); short reads happen at chunk edges, b"" at the end. The
        buffer is consumed by position, never re-sliced, so a caller reading 8 KiB at a time stays linear."""
        if size < 0:
            return b"".join(iter(self))
        while self._pos >= len(self._out):
            self._out, self._pos = next(self._chunks, b""), 0
            if not self._out:
                return b""
        piece = self._out[self._pos : self._pos + size]
        self._pos += len(piece)
        return piece
