"""What the OceanBase packages of each edition carry (spec 4 step 8), written as real RPMs by the generic
`upgrades.packages.rpmwriter`: the files obshell checks for, with deterministic stand-in content. The demo
seeds its store with them; tests and benchmarks upload them."""

import hashlib
from pathlib import Path

from upgrades.models.cluster import REQUIRED_PACKAGES
from upgrades.packages import names
from upgrades.packages.rpmwriter import DIRECTORY, write_rpm


def _script(name, version):
    return (
        f"#!/usr/bin/env python\n# -*- coding: utf-8 -*-\n# {name}: upgrade step shipped with OceanBase {version}.\n"
        "import sys\n\n\ndef main(argv):\n"
        f"    print('[{name}] checking cluster for {version}')\n    return 0\n\n\n"
        "if __name__ == '__main__':\n    sys.exit(main(sys.argv[1:]))\n"
    ).encode()


def _binary(label, size):
    """Deterministic bytes that look like an ELF binary to `file` and compress like one (somewhat)."""
    seed = hashlib.sha256(label.encode()).digest()
    body = bytearray(b"\x7fELF\x02\x01\x01\x00" + b"\0" * 8)
    block = seed
    while len(body) < size:
        block = hashlib.sha256(block).digest()
        body += block + label.encode() + b"\0" * 24
    return bytes(body[:size])


def oceanbase_package_files(name, *, version, release, dep_yaml=None, binary_size=64 * 1024):
    """The files a realistic `name` rpm carries; the upgrade scripts come only with a dep yaml."""
    build = f"{version}_{release.split('.')[0]}"
    if name == names.OCEANBASE_CE_LIBS:
        return {
            names.LIB_DIR: DIRECTORY,
            f"{names.LIB_DIR}/libaio.so.1": _binary(f"libaio {build}", binary_size // 4),
            f"{names.LIB_DIR}/libmariadb.so.3": _binary(f"libmariadb {build}", binary_size // 4),
        }
    files = {names.OBSERVER: _binary(f"observer {build}", binary_size)}
    if name != names.OCEANBASE:
        files[names.OBSHELL_BINARY] = _binary(f"obshell {build}", binary_size // 2)
    if name in (names.OCEANBASE, names.OCEANBASE_STANDALONE):
        files[names.LIB_DIR] = DIRECTORY
        files[f"{names.LIB_DIR}/libaio.so.1"] = _binary(f"libaio {build}", binary_size // 4)
    files[f"{names.OB_HOME}/etc/default_parameter.json"] = b'{"memory_limit": "0M", "system_memory": "0M"}\n'
    if dep_yaml is not None:
        for script in names.UPGRADE_SCRIPTS:
            files[f"{names.OB_HOME}/etc/{script}"] = _script(script, version)
        files[names.DEP_YAML] = dep_yaml.encode() if isinstance(dep_yaml, str) else dep_yaml
    return files


def write_oceanbase_rpms(
    directory, *, edition, version, release, arch="x86_64", dep_yaml=None, compression="xz", binary_size=64 * 1024
):
    """Write the rpms `edition` needs for one version (community: oceanbase-ce + oceanbase-ce-libs)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in REQUIRED_PACKAGES[edition]:
        files = oceanbase_package_files(
            name, version=version, release=release, dep_yaml=dep_yaml, binary_size=binary_size
        )
        path = directory / f"{name}-{version}-{release}.{arch}.rpm"
        paths.append(
            write_rpm(
                path, name=name, version=version, release=release, arch=arch, files=files, compression=compression
            )
        )
    return paths


def write_obshell_rpm(directory, *, version, release, arch="x86_64", compression="xz"):
    path = Path(directory) / f"obshell-{version}-{release}.{arch}.rpm"
    files = {names.OBSHELL_BINARY: _binary(f"obshell {version}-{release}", 32 * 1024)}
    return write_rpm(
        path, name=names.OBSHELL, version=version, release=release, arch=arch, files=files, compression=compression
    )
