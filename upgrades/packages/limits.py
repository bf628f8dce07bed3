"""How large a package may be (`PACKAGE_MAX_BYTES`, the file itself), and what that allows on the wire.

Every way in enforces it before anything is kept: the API refuses a declared Content-Length over the wire
allowance before reading the body and stops reading at the allowance; the pages' upload handler stops at the
same bounds; `received_package` (the API, the pages and `add_package` all end there) refuses a file over the
limit before copying it, and stops copying at the limit whatever the declared size.

errCode: obshell reads the whole upload into memory and has no limit, so there is no obshell code. The
refusal is 400 `OB.Package.TooLarge` (the client's input; beside `OB.Package.Name.NotSupport`), in
obshell's envelope.
"""

from django.conf import settings
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler

from upgrades.errors import bad_request

# Boundary lines, part headers and the file name around the one file part of a multipart body.
MULTIPART_OVERHEAD = 64 * 1024
ERR_CODE = "OB.Package.TooLarge"


def max_file_bytes():
    return settings.PACKAGE_MAX_BYTES


def multipart_allowance():
    """The largest plain multipart body carrying one file of max_file_bytes()."""
    return max_file_bytes() + MULTIPART_OVERHEAD


def encrypted_allowance(plain):
    """The largest base64 AES-128-CBC text of `plain` bytes (PKCS#7 always adds a block), allowing the
    text to be wrapped in CRLF-ended lines of 76 characters (the decryptor skips line breaks)."""
    cipher = (plain // 16 + 1) * 16
    text = 4 * -(-cipher // 3)
    return text + 2 * -(-text // 76)


def wire_allowance(*, encrypted):
    """The largest request body an upload of max_file_bytes() can need (v2 encrypts the whole multipart)."""
    plain = multipart_allowance()
    return encrypted_allowance(plain) if encrypted else plain


def too_large():
    return bad_request(
        ERR_CODE, f"The package is larger than the limit of {max_file_bytes()} bytes (PACKAGE_MAX_BYTES)"
    )


def declared_length(meta):
    try:
        return max(int(meta.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


def refuse_declared(meta, *, encrypted):
    """Refuse a body whose declared size already exceeds the allowance, before any byte of it is read."""
    if declared_length(meta) > wire_allowance(encrypted=encrypted):
        raise too_large()


class LimitedReader:
    """Reads a request body, refusing once more than `limit` bytes have come (a missing or false length)."""

    def __init__(self, stream, limit):
        self.stream = stream
        self.limit = limit
        self.total = 0

    def read(self, size=-1):
        chunk = self.stream.read(size)
        self.total += len(chunk)
        if self.total > self.limit:
            raise too_large()
        return chunk


class LimitedUploadHandler(TemporaryFileUploadHandler):
    """Django's temporary-file upload handler, stopping (and dropping what it wrote) past the limit: a
    declared body over the multipart allowance is not read at all, a file part over max_file_bytes() stops
    at that size. `too_large` tells the view why the file is missing."""

    def __init__(self, request=None):
        super().__init__(request)
        self.too_large = False

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.too_large = content_length > multipart_allowance()

    def new_file(self, *args, **kwargs):
        if self.too_large:
            raise StopUpload(connection_reset=True)
        return super().new_file(*args, **kwargs)

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > max_file_bytes():
            self.too_large = True
            self.file.close()  # a temporary file: closing removes it
            raise StopUpload(connection_reset=True)
        return super().receive_data_chunk(raw_data, start)
