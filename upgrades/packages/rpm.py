"""Reading RPM files: streaming digests with the signature, the main header (via rpmfile) and payload members.

Nothing here loads a whole package into memory: digests are fed chunk by chunk, the header is read with
rpmfile from the start of the file, and payload members are found by decompressing the cpio stream
sequentially (rpmfile's own member access seeks, and for zstd reads the whole payload into memory).
"""

import bz2
import gzip
import hashlib
import lzma
import struct
import zlib
from dataclasses import dataclass, field

import rpmfile
import zstandard
from rpmfile.errors import RPMError

LEAD_SIZE = 96
LEAD_MAGIC = b"\xed\xab\xee\xdb"
HEADER_MAGIC = b"\x8e\xad\xe8\x01"
_INDEX = struct.Struct("!iiii")

SIG_SIZE = 1000
SIG_MD5 = 1004
SIG_PAYLOADSIZE = 1007
SIG_LONGSIZE = 270
SIG_LONGPAYLOADSIZE = 271

# Parser budgets (issue 9, "Parsers have budgets"). rpmfile trusts every declared count: for each index entry it
# copies the store from the entry's offset on and splits it into as many items as the entry claims, so a
# header of many entries over a large store costs entries x store in memory. Both headers (signature and
# main) are therefore read and checked here first, and rpmfile only ever sees a header within these bounds.
# Real OceanBase packages use a few dozen entries and well under 1 MiB of store; rpm's own hard limits
# (HEADER_TAGS_MAX, HEADER_DATA_MAX) are 64 Ki entries and 256 MiB.
_MAX_SIGNATURE_ENTRIES = 64
_MAX_SIGNATURE_DATA = 1024 * 1024
_MAX_HEADER_ENTRIES = 4096
_MAX_HEADER_DATA = 16 * 1024 * 1024
# rpmfile copies the store from each string entry's offset to its end: the sum of those copies is bounded.
_MAX_HEADER_COPY = 256 * 1024 * 1024
_MAX_NEVRA_FIELD = 255
# cpio member names are install paths (PATH_MAX is 4096 on Linux).
_MAX_CPIO_NAME = 4096
# Total uncompressed bytes read from one payload: at most this many times the compressed payload (real
# packages compress 3 to 10 times; a bomb of zeros 1000 times and more), and never more than the absolute cap.
MAX_PAYLOAD_EXPANSION = 100
MAX_PAYLOAD_UNPACKED = 16 * 1024 * 1024 * 1024
_TYPE_SIZES = {0: 1, 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1}  # NULL, CHAR, INT8, INT16, INT32, INT64, BIN
_STRING_TYPES = (6, 8, 9)  # STRING, STRING_ARRAY, I18NSTRING
_CHUNK = 1024 * 1024
_S_IFMT, _S_IFDIR = 0o170000, 0o040000


class RpmReadError(Exception):
    """The bytes are not an RPM, or an RPM that is damaged. `not_rpm` tells the two apart."""

    def __init__(self, message, *, not_rpm=False):
        super().__init__(message)
        self.not_rpm = not_rpm


def signature_end(head):
    """Offset where the main header starts, or None when `head` is still too short to tell."""
    if len(head) >= 4 and head[:4] != LEAD_MAGIC:
        raise RpmReadError("no RPM lead magic", not_rpm=True)
    if len(head) < LEAD_SIZE + 16:
        return None
    if head[LEAD_SIZE : LEAD_SIZE + 4] != HEADER_MAGIC:
        raise RpmReadError("no signature header after the lead")
    entries, data = struct.unpack_from("!ii", head, LEAD_SIZE + 8)
    if not (0 < entries <= _MAX_SIGNATURE_ENTRIES and 0 <= data <= _MAX_SIGNATURE_DATA):
        raise RpmReadError("implausible signature header size")
    end = LEAD_SIZE + 16 + entries * 16 + data
    return end + (-end % 8)


def check_header_entries(index, store, what):
    """Refuse a header whose entries would make rpmfile allocate more than the header itself holds.

    Every entry must point into the store, its items must fit there (each takes at least one byte), the
    items of all entries together may not outnumber the store's bytes (rpm never lets entries share data),
    and the copies rpmfile makes for string entries stay within _MAX_HEADER_COPY.
    """
    size = len(store)
    items = copied = 0
    for i in range(len(index) // 16):
        _tag, kind, offset, count = _INDEX.unpack_from(index, i * 16)
        if not 0 <= offset < size or not 0 < count <= size - offset:
            raise RpmReadError(f"{what} entry {i} lies outside the header")
        if kind in _STRING_TYPES:
            copied += size - offset
        elif kind not in _TYPE_SIZES or offset + _TYPE_SIZES[kind] * count > size:
            raise RpmReadError(f"{what} entry {i} lies outside the header")
        items += count
    if items > size:
        raise RpmReadError(f"{what} entries declare more items than the header holds")
    if copied > _MAX_HEADER_COPY:
        raise RpmReadError(f"{what} is too expensive to read")


def parse_signature(head):
    """The signature tags that matter here, from the bytes of the lead + signature header."""
    entries, data_length = struct.unpack_from("!ii", head, LEAD_SIZE + 8)
    store_start = LEAD_SIZE + 16 + entries * 16
    store = head[store_start : store_start + data_length]
    if len(store) != data_length:
        raise RpmReadError("file ends inside the RPM signature")
    check_header_entries(head[LEAD_SIZE + 16 : store_start], store, "signature header")
    tags = {}
    for i in range(entries):
        tag, kind, offset, count = _INDEX.unpack_from(head, LEAD_SIZE + 16 + i * 16)
        try:
            if kind == 4 and count >= 1:
                tags[tag] = struct.unpack_from("!I", store, offset)[0]
            elif kind == 5 and count >= 1:
                tags[tag] = struct.unpack_from("!Q", store, offset)[0]
            elif kind == 7:
                tags[tag] = bytes(store[offset : offset + count])
        except struct.error:
            raise RpmReadError(f"signature tag {tag} lies outside the header") from None
    return Signature(
        size=tags.get(SIG_SIZE, tags.get(SIG_LONGSIZE)),
        md5=tags[SIG_MD5].hex() if len(tags.get(SIG_MD5, b"")) == 16 else None,
        payload_size=tags.get(SIG_PAYLOADSIZE, tags.get(SIG_LONGPAYLOADSIZE)),
    )


@dataclass(frozen=True)
class Signature:
    size: int | None  # tag 1000 (or 270): header + compressed payload, what obshell stores as PayloadSize
    md5: str | None  # tag 1004: MD5 of header + compressed payload, what obshell checks and stores as Md5
    payload_size: int | None  # tag 1007 (or 271): the uncompressed cpio archive


class StreamDigests:
    """SHA-256 of the whole file and MD5 of header+payload (the part tag 1004 covers), fed in one pass."""

    def __init__(self):
        self.sha256 = hashlib.sha256()
        self.md5 = hashlib.md5()
        self.size = 0
        self.head = bytearray()
        self.header_start = None

    def update(self, chunk):
        self.sha256.update(chunk)
        self.size += len(chunk)
        if self.header_start is not None:
            self.md5.update(chunk)
            return
        self.head += chunk
        self.header_start = signature_end(self.head)
        if self.header_start is not None and len(self.head) >= self.header_start:
            self.md5.update(memoryview(self.head)[self.header_start :])
            del self.head[self.header_start :]
        elif self.header_start is not None:
            self.header_start = None  # the signature header itself is not complete yet

    def signature(self):
        if self.header_start is None:
            raise RpmReadError("file ends inside the RPM lead or signature", not_rpm=self.size < LEAD_SIZE)
        return parse_signature(self.head)


@dataclass
class RpmHeader:
    name: str
    version: str
    release: str
    arch: str
    payload_format: str
    payload_compressor: str
    header_start: int
    payload_offset: int
    files: dict = field(default_factory=dict)  # install path -> True when it is a directory

    @property
    def nvra(self):
        return f"{self.name}-{self.version}-{self.release}.{self.arch}"


def _text(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _as_list(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _read_fully(fileobj, size):
    data = fileobj.read(size)
    if len(data) != size:
        raise RpmReadError("file ends inside an RPM header")
    return data


def check_headers(fileobj):
    """Check both headers against the parser budgets before rpmfile reads them; returns the main header's
    offset. rpmfile scans for the header magic and trusts every declared count and size, so nothing it is
    given may be larger than these checks allow."""
    fileobj.seek(0)
    head = _read_fully(fileobj, LEAD_SIZE + 16)
    start = signature_end(head)
    head += _read_fully(fileobj, start - len(head))
    parse_signature(head)
    check_main_header(fileobj, start)
    return start


def check_main_header(fileobj, header_start):
    """Refuse a main header that is missing, implausibly large or whose entries exceed the parser budgets."""
    fileobj.seek(header_start)
    raw = fileobj.read(16)
    if len(raw) < 16 or raw[:4] != HEADER_MAGIC:
        raise RpmReadError("no main header where the signature ends")
    entries, data = struct.unpack_from("!ii", raw, 8)
    if not (0 < entries <= _MAX_HEADER_ENTRIES and 0 <= data <= _MAX_HEADER_DATA):
        raise RpmReadError("implausible main header size")
    index = _read_fully(fileobj, entries * 16)
    check_header_entries(index, _read_fully(fileobj, data), "main header")


def read_header(fileobj, *, header_start=None):
    """The main header of the RPM open in `fileobj` (positioned anywhere; it is rewound).

    Both headers are first checked against the parser budgets; `header_start` (from StreamDigests) must be
    where the main header is.
    """
    checked_start = check_headers(fileobj)
    if header_start is not None and header_start != checked_start:
        raise RpmReadError("main header is not where the signature ends")
    header_start = checked_start
    fileobj.seek(0)
    try:
        rpm = rpmfile.RPMFile(fileobj=fileobj)
        headers = rpm.headers
        rpm_header_start, payload_offset = rpm.header_range
    except (RPMError, AssertionError, struct.error, IndexError, ValueError, TypeError) as exc:
        raise RpmReadError(f"unreadable RPM header ({exc or type(exc).__name__})") from None
    if header_start != rpm_header_start:
        raise RpmReadError("main header is not where the signature ends")
    for required in ("name", "version", "release"):
        if not isinstance(headers.get(required), bytes):
            raise RpmReadError(f"RPM header has no {required}")
    for tag in ("name", "version", "release", "arch"):
        # These end up in messages and rows: bounded here, so no message carries a megabyte of header.
        if isinstance(headers.get(tag), bytes) and len(headers[tag]) > _MAX_NEVRA_FIELD:
            raise RpmReadError(f"RPM header {tag} is longer than {_MAX_NEVRA_FIELD} bytes")
    basenames = [_text(b) for b in _as_list(headers.get("basenames"))]
    dirnames = [_text(d) for d in _as_list(headers.get("dirnames"))]
    dirindexes = _as_list(headers.get("dirindexes"))
    modes = _as_list(headers.get("filemodes"))
    if basenames:
        if len(dirindexes) != len(basenames) or any(not 0 <= i < len(dirnames) for i in dirindexes):
            raise RpmReadError("RPM header file list is inconsistent")
        paths = [dirnames[i] + base for i, base in zip(dirindexes, basenames, strict=True)]
    else:
        paths = [_text(p) for p in _as_list(headers.get("oldfilenames"))]
    modes += [0] * (len(paths) - len(modes))
    return RpmHeader(
        name=_text(headers["name"]),
        version=_text(headers["version"]),
        release=_text(headers["release"]),
        arch=_text(headers.get("arch")) or "noarch",
        payload_format=_text(headers.get("archive_format")) or "cpio",
        payload_compressor=_text(headers.get("archive_compression")) or "gzip",
        header_start=rpm_header_start,
        payload_offset=payload_offset,
        files={path: (mode & _S_IFMT) == _S_IFDIR for path, mode in zip(paths, modes, strict=False)},
    )


class _Window:
    """Read-only view of a file from `start` on, so decompressors see only the payload."""

    def __init__(self, fileobj, start):
        self.fileobj = fileobj
        fileobj.seek(start)

    def read(self, size=-1):
        return self.fileobj.read(size)

    def readable(self):
        return True


class _Budget:
    """Counts what is read from the uncompressed payload and stops at `limit` bytes (decompression bombs)."""

    def __init__(self, stream, limit):
        self.stream = stream
        self.limit = limit
        self.total = 0

    def read(self, size):
        chunk = self.stream.read(size)
        self.total += len(chunk)
        if self.total > self.limit:
            raise RpmReadError(f"payload expands beyond {self.limit} bytes (the parser budget)")
        return chunk

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stream.close()


def payload_budget(fileobj, header):
    """How many uncompressed payload bytes may be read: MAX_PAYLOAD_EXPANSION times the compressed payload,
    at most MAX_PAYLOAD_UNPACKED."""
    compressed = max(fileobj.seek(0, 2) - header.payload_offset, 1)
    return min(compressed * MAX_PAYLOAD_EXPANSION, MAX_PAYLOAD_UNPACKED)


def open_payload(fileobj, header):
    """A readable stream of the uncompressed cpio archive."""
    window = _Window(fileobj, header.payload_offset)
    compressor = header.payload_compressor
    if compressor in ("xz", "lzma"):
        return lzma.LZMAFile(window, format=lzma.FORMAT_AUTO)
    if compressor == "zstd":
        return zstandard.ZstdDecompressor().stream_reader(window, read_across_frames=True, closefd=False)
    if compressor == "bzip2":
        return bz2.BZ2File(window)
    if compressor == "gzip":
        return gzip.GzipFile(fileobj=window, mode="rb")
    raise RpmReadError(f"unsupported payload compressor {compressor!r}")


def _read_exact(stream, size):
    parts, left = [], size
    while left:
        chunk = stream.read(min(left, _CHUNK))
        if not chunk:
            raise RpmReadError("payload ends inside a cpio member")
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _skip(stream, size):
    while size:
        chunk = stream.read(min(size, _CHUNK))
        if not chunk:
            raise RpmReadError("payload ends inside a cpio member")
        size -= len(chunk)


def read_payload_member(fileobj, header, path, *, max_size=16 * 1024 * 1024):
    """The content of the payload member installed at `path`, or None if the archive has none.

    Decompresses sequentially and stops at the member, so a small file near the front of a large
    package costs little; a damaged stream raises RpmReadError.
    """
    if header.payload_format != "cpio":
        raise RpmReadError(f"unsupported payload format {header.payload_format!r}")
    wanted = {"." + path, path, path.lstrip("/")}
    try:
        limit = payload_budget(fileobj, header)
        with _Budget(open_payload(fileobj, header), limit) as stream:
            offset = 0
            while True:
                raw = _read_exact(stream, 110)
                if raw[:6] not in (b"070701", b"070702"):
                    raise RpmReadError("payload is not a newc cpio archive")
                fields = [int(raw[6 + 8 * i : 14 + 8 * i], 16) for i in range(13)]
                size, namesize = fields[6], fields[11]
                if not 0 < namesize <= _MAX_CPIO_NAME:
                    raise RpmReadError(f"cpio member name of {namesize} bytes (at most {_MAX_CPIO_NAME})")
                name_block = 110 + namesize
                name = _read_exact(stream, namesize + (-(offset + name_block) % 4))[: namesize - 1].decode(
                    "utf-8", "replace"
                )
                offset += name_block + (-(offset + name_block) % 4)
                if name == "TRAILER!!!":
                    return None
                padding = -size % 4
                if name in wanted and (fields[1] & _S_IFMT) != _S_IFDIR:
                    if size > max_size:
                        raise RpmReadError(f"{path} in the payload is larger than {max_size} bytes")
                    return _read_exact(stream, size)
                _skip(stream, size + padding)
                offset += size + padding
    except (lzma.LZMAError, zstandard.ZstdError, zlib.error, OSError, EOFError, ValueError) as exc:
        raise RpmReadError(f"damaged payload ({exc})") from None
