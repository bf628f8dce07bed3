"""The reader parses headers, file lists and payload members of gzip, xz and zstd packages."""

import pytest

from tests.packages.helpers import RELEASE, VERSION
from upgrades.demo.rpms import write_oceanbase_rpms
from upgrades.packages.names import DEP_YAML, LIB_DIR, OBSERVER
from upgrades.packages.rpm import StreamDigests, read_header, read_payload_member


def _read(path):
    digests = StreamDigests()
    with open(path, "rb") as f:
        while chunk := f.read(4096):
            digests.update(chunk)
        header = read_header(f)
        dep_yaml = read_payload_member(f, header, DEP_YAML)
    return digests, header, dep_yaml


@pytest.mark.parametrize("compression", ["gzip", "xz", "zstd"])
def test_writer_packages_parse_with_every_compressor(tmp_path, compression, dep_yaml):
    ce, libs = write_oceanbase_rpms(
        tmp_path,
        edition="community",
        version=VERSION,
        release=RELEASE,
        arch="x86_64",
        dep_yaml=dep_yaml,
        compression=compression,
    )
    digests, header, content = _read(ce)
    assert (header.name, header.version, header.release, header.arch) == ("oceanbase-ce", VERSION, RELEASE, "x86_64")
    assert header.payload_compressor == compression
    assert header.files[OBSERVER] is False
    assert content.decode() == dep_yaml
    signature = digests.signature()
    assert signature.md5 == digests.md5.hexdigest()
    assert signature.size == digests.size - digests.header_start

    _, libs_header, libs_yaml = _read(libs)
    assert libs_header.files[LIB_DIR] is True
    assert libs_yaml is None


@pytest.mark.parametrize("compression", ["gzip", "xz", "zstd"])
def test_rpmbuild_packages_parse_with_every_compressor(rpmbuild_dir, compression, dep_yaml):
    digests, header, content = _read(rpmbuild_dir / compression / f"oceanbase-ce-{VERSION}-{RELEASE}.x86_64.rpm")
    assert (header.name, header.version, header.release, header.arch) == ("oceanbase-ce", VERSION, RELEASE, "x86_64")
    assert header.payload_compressor == compression
    assert content.decode() == dep_yaml
    assert digests.signature().md5 == digests.md5.hexdigest()


def test_a_member_the_archive_lacks_reads_as_none(ce_rpm):
    with open(ce_rpm, "rb") as f:
        header = read_header(f)
        assert read_payload_member(f, header, "/home/admin/oceanbase/etc/absent.yml") is None
        assert read_payload_member(f, header, "/home/admin/oceanbase/bin/obshell").startswith(b"\x7fELF")
