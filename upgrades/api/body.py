"""Reading request bodies: decrypted (v2) before any parsing, never through request.body (which refuses
bodies over DATA_UPLOAD_MAX_MEMORY_SIZE), uploads streamed to disk."""

from django.conf import settings

from upgrades.errors import bad_request
from upgrades.security.crypto import aes_decrypt, aes_decrypt_stream

READ_CHUNK = 256 * 1024


def too_large():
    return bad_request("Common.BindJsonFailed", "Bind JSON failed: http: request body too large")


def read_small_body(request, caller):
    """The (decrypted) body of a JSON request, bounded by DATA_UPLOAD_MAX_MEMORY_SIZE."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440
    raw = request.read(limit + 1)
    if len(raw) > limit:
        raise too_large()
    if raw and caller.aes_keys is not None:
        return aes_decrypt(raw, caller.aes_keys)
    return raw


def copy_body(request, caller, sink):
    """Write the (decrypted) body to `sink` chunk by chunk; returns the number of plaintext bytes. `caller`
    None: the body is plain whatever the auth header carries (POST /api/v1/package)."""
    if caller is not None and caller.aes_keys is not None:
        return aes_decrypt_stream(request, sink, caller.aes_keys)
    total = 0
    while chunk := request.read(READ_CHUNK):
        sink.write(chunk)
        total += len(chunk)
    return total
