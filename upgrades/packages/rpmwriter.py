"""A pure-Python writer of binary RPM packages (format v3 lead, v4 headers, newc cpio payload).

It makes real RPMs that `rpm -qp`, rpmfile and obshell's reader (cavaliergopher/rpm) accept; the OceanBase
packages that tests, benchmarks and the demo upload are filled by `upgrades.demo.rpms`.

Layout: a 96-byte lead, the signature header (sizes, the MD5 of header+payload in tag 1004, header
SHA-1/SHA-256), padding to 8 bytes, the main header (an immutable region holding name, version, release,
arch, os, the compressed file list and per-file metadata, payload format and compressor), then the
compressed cpio archive whose member names start with "./".

`files` maps absolute install paths to their content: bytes, a `pathlib.Path` whose content is streamed
from disk (for large packages), or `DIRECTORY` for a directory entry (obshell requires the libs rpm to
list "/home/admin/oceanbase/lib" itself as a directory).
"""

import gzip
import hashlib
import lzma
import shutil
import stat
import struct
import tempfile
import time
from pathlib import Path, PurePosixPath

import zstandard

DIRECTORY = object()

COMPRESSIONS = ("gzip", "xz", "zstd")
_CHUNK = 1024 * 1024

# Header entry types.
_INT16, _INT32, _INT64, _STRING, _BIN, _STRING_ARRAY, _I18NSTRING = 3, 4, 5, 6, 7, 8, 9
_ALIGN = {_INT16: 2, _INT32: 4, _INT64: 8}
_HEADER_MAGIC = b"\x8e\xad\xe8\x01\x00\x00\x00\x00"
_LEAD = struct.Struct("!4sBBhh66shh16s")
_LEAD_MAGIC = b"\xed\xab\xee\xdb"

# Signature tags.
SIG_HEADERSIGNATURES = 62
SIG_SHA1 = 269
SIG_SHA256 = 273
SIG_LONGSIZE = 270
SIG_LONGPAYLOADSIZE = 271
SIG_SIZE = 1000  # header + compressed payload, in bytes
SIG_MD5 = 1004  # MD5 of header + compressed payload
SIG_PAYLOADSIZE = 1007  # uncompressed cpio archive, in bytes

# Main header tags.
TAG_HEADERIMMUTABLE = 63
TAG_I18NTABLE = 100
TAG_NAME, TAG_VERSION, TAG_RELEASE = 1000, 1001, 1002
TAG_SUMMARY, TAG_DESCRIPTION, TAG_BUILDTIME, TAG_BUILDHOST = 1004, 1005, 1006, 1007
TAG_SIZE, TAG_VENDOR, TAG_LICENSE, TAG_PACKAGER, TAG_GROUP, TAG_URL = 1009, 1011, 1014, 1015, 1016, 1020
TAG_OS, TAG_ARCH = 1021, 1022
TAG_FILESIZES, TAG_FILEMODES, TAG_FILERDEVS, TAG_FILEMTIMES = 1028, 1030, 1033, 1034
TAG_FILEDIGESTS, TAG_FILELINKTOS, TAG_FILEFLAGS = 1035, 1036, 1037
TAG_FILEUSERNAME, TAG_FILEGROUPNAME, TAG_SOURCERPM, TAG_FILEVERIFYFLAGS = 1039, 1040, 1044, 1045
TAG_PROVIDENAME, TAG_REQUIREFLAGS, TAG_REQUIRENAME, TAG_REQUIREVERSION = 1047, 1048, 1049, 1050
TAG_RPMVERSION = 1064
TAG_FILEDEVICES, TAG_FILEINODES, TAG_FILELANGS = 1095, 1096, 1097
TAG_PROVIDEFLAGS, TAG_PROVIDEVERSION = 1112, 1113
TAG_DIRINDEXES, TAG_BASENAMES, TAG_DIRNAMES = 1116, 1117, 1118
TAG_PAYLOADFORMAT, TAG_PAYLOADCOMPRESSOR, TAG_PAYLOADFLAGS = 1124, 1125, 1126
TAG_FILEDIGESTALGO = 5011
TAG_ENCODING = 5062
TAG_PAYLOADDIGEST, TAG_PAYLOADDIGESTALGO = 5092, 5093

_PGPHASHALGO_SHA256 = 8
_RPMSENSE_RPMLIB_LE = 0x1000000 | 0x02 | 0x08
_LEAD_ARCH = {"x86_64": 1, "i686": 1, "aarch64": 19, "ppc64le": 16, "noarch": 255}
_DEFAULT_LEVEL = {"gzip": 6, "xz": 2, "zstd": 3}
_PAYLOAD_REQUIRES = {
    "gzip": [],
    "xz": [("rpmlib(PayloadIsXz)", "5.2-1")],
    "zstd": [("rpmlib(PayloadIsZstd)", "5.4.18-1")],
}


def write_rpm(
    path, *, name, version, release, arch="x86_64", files, compression="xz", level=None, summary=None, buildtime=None
):
    """Write a binary RPM to `path` and return it as a Path. See the module docstring for `files`."""
    if compression not in COMPRESSIONS:
        raise ValueError(f"compression must be one of {COMPRESSIONS}, not {compression!r}")
    path = Path(path)
    buildtime = int(time.time()) if buildtime is None else int(buildtime)
    level = _DEFAULT_LEVEL[compression] if level is None else level
    entries = _file_entries(files, mtime=buildtime)
    with tempfile.TemporaryFile(dir=path.parent) as payload:
        archive_size, payload_digest = _write_payload(payload, entries, compression, level)
        payload_length = payload.tell()
        header = _main_header(
            name=name,
            version=version,
            release=release,
            arch=arch,
            entries=entries,
            compression=compression,
            level=level,
            summary=summary or f"{name} {version}",
            buildtime=buildtime,
            payload_digest=payload_digest,
        )
        md5 = hashlib.md5(header)
        payload.seek(0)
        for chunk in iter(lambda: payload.read(_CHUNK), b""):
            md5.update(chunk)
        signature = _signature_header(header, payload_length, archive_size, md5.digest())
        with open(path, "wb") as out:
            out.write(_lead(name, version, release, arch))
            out.write(signature)
            out.write(b"\0" * (-len(signature) % 8))
            out.write(header)
            payload.seek(0)
            shutil.copyfileobj(payload, out, _CHUNK)
    return path


class _Entry:
    def __init__(self, path, content, mtime):
        self.path = path
        self.is_dir = content is DIRECTORY
        self.content = None if self.is_dir else content
        self.mtime = mtime
        if self.is_dir:
            self.size = 0
        elif isinstance(content, Path):
            self.size = content.stat().st_size
        else:
            self.size = len(content)
        self.mode = (stat.S_IFDIR | 0o755) if self.is_dir else (stat.S_IFREG | self._permissions(path))
        self.digest = ""

    @staticmethod
    def _permissions(path):
        parts = PurePosixPath(path).parts
        return 0o755 if "bin" in parts or path.endswith(".so") or ".so." in path else 0o644

    def chunks(self):
        if isinstance(self.content, Path):
            with open(self.content, "rb") as f:
                yield from iter(lambda: f.read(_CHUNK), b"")
        elif self.content:
            view = memoryview(self.content)
            for start in range(0, len(view), _CHUNK):
                yield view[start : start + _CHUNK]


def _file_entries(files, *, mtime):
    entries = []
    for path, content in sorted(files.items()):
        if not path.startswith("/") or path.endswith("/") or "//" in path:
            raise ValueError(f"install paths must be absolute file or directory names, not {path!r}")
        entries.append(_Entry(path, content, mtime))
    return entries


class _DigestingWriter:
    """Digests (SHA-256) the compressed bytes on their way to the payload file."""

    def __init__(self, out):
        self.out = out
        self.sha256 = hashlib.sha256()

    def write(self, data):
        self.sha256.update(data)
        return self.out.write(data)

    def flush(self):
        self.out.flush()


def _compressor(compression, level, sink):
    if compression == "gzip":
        return gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=level, mtime=0)
    if compression == "xz":
        return _LzmaWriter(sink, level)
    return zstandard.ZstdCompressor(level=level).stream_writer(sink, closefd=False)


class _LzmaWriter:
    def __init__(self, sink, level):
        self.sink = sink
        self.compressor = lzma.LZMACompressor(format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=level)

    def write(self, data):
        self.sink.write(self.compressor.compress(data))

    def close(self):
        self.sink.write(self.compressor.flush())


def _write_payload(out, entries, compression, level):
    """Write the compressed newc cpio archive; fill each entry's SHA-256. Returns (archive size, payload digest)."""
    sink = _DigestingWriter(out)
    writer = _compressor(compression, level, sink)
    archive_size = 0

    def put(data):
        nonlocal archive_size
        writer.write(data)
        archive_size += len(data)

    for inode, entry in enumerate(entries, start=1):
        put(
            _cpio_header(
                "." + entry.path,
                inode=inode,
                mode=entry.mode,
                size=entry.size,
                mtime=entry.mtime,
                nlink=2 if entry.is_dir else 1,
                offset=archive_size,
            )
        )
        if entry.is_dir:
            continue
        digest = hashlib.sha256()
        for chunk in entry.chunks():
            digest.update(chunk)
            put(chunk)
        entry.digest = digest.hexdigest()
        put(b"\0" * (-entry.size % 4))
    put(_cpio_header("TRAILER!!!", inode=0, mode=0, size=0, mtime=0, nlink=1, offset=archive_size))
    writer.close()
    return archive_size, sink.sha256.hexdigest()


def _cpio_header(name, *, inode, mode, size, mtime, nlink, offset):
    encoded = name.encode() + b"\0"
    fields = (inode, mode, 0, 0, nlink, mtime, size, 0, 0, 0, 0, len(encoded), 0)
    header = b"070701" + b"".join(b"%08X" % value for value in fields) + encoded
    return header + b"\0" * (-(offset + len(header)) % 4)


def _lead(name, version, release, arch):
    label = f"{name}-{version}-{release}".encode()[:65]
    return _LEAD.pack(_LEAD_MAGIC, 3, 0, 0, _LEAD_ARCH.get(arch, 1), label, 1, 5, b"")


def _main_header(*, name, version, release, arch, entries, compression, level, summary, buildtime, payload_digest):
    dirnames, dirindexes = [], []
    for entry in entries:
        dirname = str(PurePosixPath(entry.path).parent).rstrip("/") + "/"
        if dirname not in dirnames:
            dirnames.append(dirname)
        dirindexes.append(dirnames.index(dirname))
    count = len(entries)
    requires = [
        ("rpmlib(CompressedFileNames)", "3.0.4-1"),
        ("rpmlib(FileDigests)", "4.6.0-1"),
        ("rpmlib(PayloadFilesHavePrefix)", "4.0-1"),
        *_PAYLOAD_REQUIRES[compression],
    ]
    tags = {
        TAG_I18NTABLE: (_STRING_ARRAY, ["C"]),
        TAG_NAME: (_STRING, name),
        TAG_VERSION: (_STRING, version),
        TAG_RELEASE: (_STRING, release),
        TAG_SUMMARY: (_I18NSTRING, summary),
        TAG_DESCRIPTION: (_I18NSTRING, f"{summary}, packaged for the OB Upgrade Dashboard."),
        TAG_BUILDTIME: (_INT32, [buildtime]),
        TAG_BUILDHOST: (_STRING, "ob-upgrade-dashboard"),
        TAG_SIZE: (_INT32, [min(sum(e.size for e in entries), 0xFFFFFFFF)]),
        TAG_VENDOR: (_STRING, "OceanBase"),
        TAG_LICENSE: (_STRING, "Mulan PubL v2"),
        TAG_PACKAGER: (_STRING, "OceanBase"),
        TAG_GROUP: (_I18NSTRING, "Applications/Databases"),
        TAG_URL: (_STRING, "https://www.oceanbase.com"),
        TAG_OS: (_STRING, "linux"),
        TAG_ARCH: (_STRING, arch),
        TAG_SOURCERPM: (_STRING, f"{name}-{version}-{release}.src.rpm"),
        TAG_PROVIDENAME: (_STRING_ARRAY, [name, f"{name}({arch.replace('_', '-')})"] if arch != "noarch" else [name]),
        TAG_REQUIREFLAGS: (_INT32, [_RPMSENSE_RPMLIB_LE] * len(requires)),
        TAG_REQUIRENAME: (_STRING_ARRAY, [r[0] for r in requires]),
        TAG_REQUIREVERSION: (_STRING_ARRAY, [r[1] for r in requires]),
        TAG_RPMVERSION: (_STRING, "4.18.0"),
        TAG_PAYLOADFORMAT: (_STRING, "cpio"),
        TAG_PAYLOADCOMPRESSOR: (_STRING, compression),
        TAG_PAYLOADFLAGS: (_STRING, str(level)),
        TAG_ENCODING: (_STRING, "utf-8"),
        TAG_PAYLOADDIGEST: (_STRING_ARRAY, [payload_digest]),
        TAG_PAYLOADDIGESTALGO: (_INT32, [_PGPHASHALGO_SHA256]),
    }
    provides = len(tags[TAG_PROVIDENAME][1])
    tags[TAG_PROVIDEFLAGS] = (_INT32, [0x08] * provides)
    tags[TAG_PROVIDEVERSION] = (_STRING_ARRAY, [f"{version}-{release}"] * provides)
    if count:
        tags.update(
            {
                TAG_FILESIZES: (_INT32, [e.size for e in entries]),
                TAG_FILEMODES: (_INT16, [e.mode for e in entries]),
                TAG_FILERDEVS: (_INT16, [0] * count),
                TAG_FILEMTIMES: (_INT32, [e.mtime for e in entries]),
                TAG_FILEDIGESTS: (_STRING_ARRAY, [e.digest for e in entries]),
                TAG_FILELINKTOS: (_STRING_ARRAY, [""] * count),
                TAG_FILEFLAGS: (_INT32, [0] * count),
                TAG_FILEUSERNAME: (_STRING_ARRAY, ["root"] * count),
                TAG_FILEGROUPNAME: (_STRING_ARRAY, ["root"] * count),
                TAG_FILEVERIFYFLAGS: (_INT32, [0xFFFFFFFF] * count),
                TAG_FILEDEVICES: (_INT32, [1] * count),
                TAG_FILEINODES: (_INT32, list(range(1, count + 1))),
                TAG_FILELANGS: (_STRING_ARRAY, [""] * count),
                TAG_DIRINDEXES: (_INT32, dirindexes),
                TAG_BASENAMES: (_STRING_ARRAY, [PurePosixPath(e.path).name for e in entries]),
                TAG_DIRNAMES: (_STRING_ARRAY, dirnames),
                TAG_FILEDIGESTALGO: (_INT32, [_PGPHASHALGO_SHA256]),
            }
        )
    return _header(tags, region_tag=TAG_HEADERIMMUTABLE)


def _signature_header(header, payload_length, archive_size, md5):
    total = len(header) + payload_length
    tags = {
        SIG_SHA1: (_STRING, hashlib.sha1(header).hexdigest()),
        SIG_SHA256: (_STRING, hashlib.sha256(header).hexdigest()),
        SIG_MD5: (_BIN, md5),
    }
    if total > 0xFFFFFFFF or archive_size > 0xFFFFFFFF:
        tags[SIG_LONGSIZE] = (_INT64, [total])
        tags[SIG_LONGPAYLOADSIZE] = (_INT64, [archive_size])
    else:
        tags[SIG_SIZE] = (_INT32, [total])
        tags[SIG_PAYLOADSIZE] = (_INT32, [archive_size])
    return _header(tags, region_tag=SIG_HEADERSIGNATURES)


def _encode(kind, value):
    if kind == _STRING:
        return value.encode() + b"\0", 1
    if kind == _I18NSTRING:
        return value.encode() + b"\0", 1
    if kind == _STRING_ARRAY:
        return b"".join(v.encode() + b"\0" for v in value), len(value)
    if kind == _BIN:
        return bytes(value), len(value)
    fmt = {_INT16: "H", _INT32: "I", _INT64: "Q"}[kind]
    return struct.pack(f"!{len(value)}{fmt}", *value), len(value)


def _header(tags, *, region_tag):
    """An RPM header whose entries all sit in one immutable region (what rpm itself writes)."""
    index, store = [], bytearray()
    for tag in sorted(tags):
        kind, value = tags[tag]
        data, count = _encode(kind, value)
        store += b"\0" * (-len(store) % _ALIGN.get(kind, 1))
        index.append((tag, kind, len(store), count))
        store += data
    entries = len(index) + 1
    trailer = struct.pack("!iiii", region_tag, _BIN, -entries * 16, 16)
    index.insert(0, (region_tag, _BIN, len(store), 16))
    store += trailer
    return (
        _HEADER_MAGIC
        + struct.pack("!ii", entries, len(store))
        + b"".join(struct.pack("!iiii", *entry) for entry in index)
        + bytes(store)
    )


__all__ = ["COMPRESSIONS", "DIRECTORY", "write_rpm"]
