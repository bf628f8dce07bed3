"""Hostile inputs built at test time (nothing big is committed): RPMs with crafted headers or payloads, and
YAML alias bombs. Each RPM is otherwise well formed (its signature's size and MD5 match), so only the
crafted part can be what refuses it."""

import hashlib
import lzma
import struct

import zstandard

from upgrades.demo.rpms import oceanbase_package_files
from upgrades.packages import rpmwriter

VERSION = "4.3.0.1"
RELEASE = "101000062023110109.el7"
NAME = "oceanbase-ce"
_STRING_ARRAY = 8


def assemble(path, header, payload, *, archive_size=0):
    """lead + signature (size and MD5 of header+payload) + header + payload, written to `path`."""
    md5 = hashlib.md5(header + payload).digest()
    signature = rpmwriter._signature_header(header, len(payload), archive_size, md5)
    with open(path, "wb") as out:
        out.write(rpmwriter._lead(NAME, VERSION, RELEASE, "x86_64"))
        out.write(signature + b"\0" * (-len(signature) % 8))
        out.write(header)
        out.write(payload)
    return path


def many_entries_rpm(path, *, entries, store_size):
    """A main header of `entries` string-array entries, each claiming the whole store as its items: rpmfile
    would build entries x store_size list slots from it."""
    index = b"".join(struct.pack("!iiii", 5000 + i, _STRING_ARRAY, 0, store_size) for i in range(entries))
    header = b"\x8e\xad\xe8\x01\0\0\0\0" + struct.pack("!ii", entries, store_size) + index + b"\0" * store_size
    return assemble(path, header, b"")


def _main_header(files, compression):
    entries = rpmwriter._file_entries(files, mtime=0)
    return rpmwriter._main_header(
        name=NAME,
        version=VERSION,
        release=RELEASE,
        arch="x86_64",
        entries=entries,
        compression=compression,
        level=3,
        summary=NAME,
        buildtime=0,
        payload_digest="0" * 64,
    )


def cpio_header(name, *, size, namesize=None, mode=0o100644):
    encoded = name.encode() + b"\0"
    fields = (1, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, len(encoded) if namesize is None else namesize, 0)
    header = b"070701" + b"".join(b"%08X" % value for value in fields) + encoded
    return header + b"\0" * (-len(header) % 4)


_BLOCK = 64 * 1024 * 1024


def _compress(data, compression):
    if compression == "xz":
        return lzma.compress(data, preset=0)
    return zstandard.ZstdCompressor(level=3).compress(data)


def zeros(total, compression):
    """`total` zero bytes (a multiple of 64 MiB) as concatenated zstd frames or xz streams: one compressed
    once and repeated, so gigabytes cost a fraction of a second to build."""
    return _compress(b"\0" * _BLOCK, compression) * (total // _BLOCK)


def payload_rpm(path, first_member, *, unpacked_zeros, compression):
    """An oceanbase-ce RPM whose header lists the upgrade files (so the dep file is read from the payload)
    and whose payload starts with `first_member` (raw cpio bytes) followed by `unpacked_zeros` zero bytes."""
    files = oceanbase_package_files(NAME, version=VERSION, release=RELEASE, dep_yaml="- version: 4.3.0.1\n")
    header = _main_header(files, compression)
    payload = _compress(first_member, compression) + zeros(unpacked_zeros, compression)
    return assemble(path, header, payload)


def huge_name_rpm(path):
    """~0.2 MB: the first cpio member declares a name of almost 4 GiB; 6 GiB of zeros follow (zstd)."""
    member = cpio_header("./home/admin/oceanbase/bin/observer", size=0, namesize=0xFFFFFFF0)[:110]
    return payload_rpm(path, member, unpacked_zeros=6 * 1024**3, compression="zstd")


def bomb_rpm(path):
    """~0.3 MB: a member declaring almost 4 GiB, then 2 GiB of zeros (xz, as OceanBase's packages are)."""
    member = cpio_header("./home/admin/oceanbase/bin/observer", size=0xFFFFFFF0)
    return payload_rpm(path, member, unpacked_zeros=2 * 1024**3, compression="xz")


def alias_bomb_yaml(levels=9, width=9):
    """A dep file (~470 bytes) whose first entry's targets are `levels` nested alias levels, `width` wide."""
    lines = ["- version: 4.2.1.0", '  x0: &a0 ["4.3.0.1"]']
    for level in range(1, levels):
        refs = ",".join([f"*a{level - 1}"] * width)
        lines.append(f"  x{level}: &a{level} [{refs}]")
    lines.append(f"  can_be_upgraded_to: *a{levels - 1}")
    return "\n".join(lines) + "\n- version: 4.3.0.1\n"
