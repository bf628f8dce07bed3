"""The mechanics of taking an RPM into the package store; who may upload, identity and signatures are the
rules of upgrades.services.packages, which the API, the pages and `add_package` call.

One streaming pass copies the upload to a temporary file under MEDIA_ROOT/tmp while computing its
SHA-256 and the MD5 of header+payload. The header is then read with rpmfile and the package validated
as obshell does (spec 3.1, "Package validation on upload"), in obshell's order: MD5 check, name allowed,
release format and minimum version, required files, then `etc/oceanbase_upgrade_dep.yml` is read from
the payload. Only a package that passes is moved into place and recorded; a refused one leaves no row
and no file behind.

Decisions (spec 3.1 leaves these to a port):
* Required upgrade files. obshell demands the four upgrade scripts and the dep YAML when the rpm is newer
  than the cluster's running build and of another version. The fleet-wide store has no running build, so
  without `current_build_version` the rule is: a package carrying any of those five files must carry all
  five; one carrying none is accepted as a hotfix-only package with an empty `upgrade_dep_yaml` (a
  same-version hotfix needs no YAML, spec 4 step 8; a cross-version upgrade to it is refused at planning
  time with OB.Upgrade.DepYamlMissing). Callers that know the cluster (the API) may pass
  `current_build_version` ("4.2.1.0_100000102023092807") to get obshell's own rule.
* `md5` is the MD5 of header+payload: the bytes signature tag 1004 covers, which obshell verifies
  (cavaliergopher/rpm MD5Check) and stores as `Md5`. It is computed while streaming and must equal tag
  1004 when the package has one. `sha256` covers the whole file (what `X-OCS-File-SHA256` carries) and
  identifies the file. A package's identity (name-version-release-arch plus md5) is checked by the service.
* `payload_size` is signature tag 1000 (header + compressed payload), as obshell stores `PayloadSize`;
  tag 270 stands in for packages over 4 GiB, which carry no tag 1000.
"""

import contextlib
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files import File

from upgrades.errors import bad_request, server_error
from upgrades.models import Package
from upgrades.packages import limits, names
from upgrades.packages.rpm import RpmReadError, StreamDigests, read_header, read_payload_member
from upgrades.planning import depfile
from upgrades.planning.versions import MIN_SUPPORTED_VERSION, version_tuple

CHUNK_SIZE = 1024 * 1024
STALE_UPLOAD_SECONDS = 24 * 3600


class _MovableFile(File):
    """Lets FileSystemStorage move the temporary file into place instead of copying it."""

    def __init__(self, file, path):
        super().__init__(file)
        self._path = str(path)

    def temporary_file_path(self):
        return self._path


@dataclass
class Received:
    """A validated upload not yet in the store: the unsaved row and the temporary file it was read from."""

    package: Package
    path: Path
    filename: str


def upload_filename(*, path=None, fileobj=None, filename=None):
    return Path(filename or (path and Path(path).name) or getattr(fileobj, "name", "") or "package.rpm").name


@contextlib.contextmanager
def received_package(*, path=None, fileobj=None, filename, allowed_names=None, current_build_version=None):
    """Copy one RPM to a temporary file and validate it as obshell does; yields a Received whose row is not
    saved. Raises ObshellError when refused. The temporary file is removed on leaving the block (store_package
    moves it into place first when the package is kept).

    `allowed_names` defaults to every name some edition accepts; the diagnostic tool is always accepted.
    """
    if (path is None) == (fileobj is None):
        raise TypeError("pass exactly one of path= or fileobj=")
    tmp_dir = Path(settings.MEDIA_ROOT) / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_uploads(tmp_dir)
    with contextlib.ExitStack() as stack:
        if path is not None:
            source = stack.enter_context(open(path, "rb"))
            _refuse_known_size(os.fstat(source.fileno()).st_size)
        else:
            source = fileobj
            _refuse_known_size(getattr(fileobj, "size", None))
            if getattr(fileobj, "seekable", lambda: False)():
                fileobj.seek(0)
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, prefix="upload-", suffix=".rpm")
        tmp = Path(tmp_name)
        stack.callback(tmp.unlink, missing_ok=True)
        with os.fdopen(fd, "wb") as out:
            digests = _receive(source, out, filename)
        package = _validate(tmp, digests, filename, allowed_names, current_build_version)
        yield Received(package=package, path=tmp, filename=filename)


def _refuse_known_size(size):
    """A file whose size is known and over PACKAGE_MAX_BYTES is refused before it is copied."""
    if isinstance(size, int) and size > limits.max_file_bytes():
        raise limits.too_large()


def _remove_stale_uploads(tmp_dir):
    """Temporary files a killed process left behind (a live upload keeps writing, so its mtime stays fresh)."""
    cutoff = time.time() - STALE_UPLOAD_SECONDS
    for leftover in tmp_dir.glob("upload-*.rpm"):
        with contextlib.suppress(FileNotFoundError):
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()


def _receive(source, out, filename):
    digests = StreamDigests()
    limit = limits.max_file_bytes()
    try:
        while chunk := source.read(CHUNK_SIZE):
            digests.update(chunk)
            if digests.size > limit:
                raise limits.too_large()
            out.write(chunk)
    except RpmReadError as exc:
        raise _unreadable(filename, exc) from None
    return digests


def _unreadable(filename, exc):
    # obshell answers these with the reader's plain error, i.e. 500 Common.Unexpected.
    what = "is not an RPM package" if exc.not_rpm else "is a damaged RPM package"
    return server_error("Common.Unexpected", f"'{filename}' {what}: {exc}")


def _validate(tmp, digests, filename, allowed_names, current_build_version):
    md5 = digests.md5.hexdigest()
    sha256 = digests.sha256.hexdigest()
    with open(tmp, "rb") as f:
        try:
            signature = digests.signature()
            _check_integrity(signature, digests, md5)
            header = read_header(f, header_start=digests.header_start)
        except RpmReadError as exc:
            raise _unreadable(filename, exc) from None
        _check_name(header.name, allowed_names)
        needs_dep_yaml = False
        if header.name != names.DIAGNOSTIC_TOOL:
            _check_version_and_release(header)
            needs_dep_yaml = _check_files(header, current_build_version)
        dep_yaml = ""
        stored = Package.objects.filter(sha256=sha256).only("upgrade_dep_yaml").first()
        if stored is not None:
            # These exact bytes are stored already: their dep file was read and validated then, so adding the
            # same file again costs its hashing, not another decompression of the payload.
            dep_yaml = stored.upgrade_dep_yaml
        elif needs_dep_yaml:
            try:
                content = read_payload_member(f, header, names.DEP_YAML, max_size=depfile.MAX_BYTES)
            except RpmReadError as exc:
                raise _unreadable(filename, exc) from None
            if content is None:
                raise _unreadable(filename, RpmReadError(f"{names.DEP_YAML} is listed but not in the payload"))
            dep_yaml = _checked_dep_yaml(content, filename)
    build, _, rest = header.release.partition(".")
    return Package(
        name=header.name,
        version=header.version,
        release=build,
        distribution=rest.split(".")[0],
        release_distribution=header.release,
        arch=header.arch,
        size=digests.size,
        payload_size=signature.size or 0,
        md5=md5,
        sha256=sha256,
        filename=filename,
        upgrade_dep_yaml=dep_yaml,
    )


def _checked_dep_yaml(content, filename):
    """The dep file's text once it reads as a dep file (depfile.load_dep_file: no aliases, plain strings,
    bounded). obshell only stores it and fails at upgrade time; refusing it here keeps a hostile or broken
    file out of the fleet-wide store. errCode: 400 OB.Package.DepYaml.Invalid (the client sent it; obshell
    has no code for this, and it sits beside OB.Package.Name.NotSupport)."""
    try:
        depfile.load_dep_file(content)
    except depfile.DepFileError as exc:
        raise bad_request("OB.Package.DepYaml.Invalid", f"'{filename}': {names.DEP_YAML} is invalid: {exc}") from None
    return content.decode("utf-8")


def _check_integrity(signature, digests, md5):
    """obshell's first check (rpm.MD5Check), plus the signed size, which catches truncation early."""
    signed = digests.size - digests.header_start
    if signature.size is not None and signature.size != signed:
        raise RpmReadError(f"signature says header+payload is {signature.size} bytes, the file has {signed}")
    if signature.md5 is not None and signature.md5 != md5:
        raise RpmReadError(f"MD5 check failed (signature {signature.md5}, content {md5})")


def _check_name(name, allowed_names):
    allowed = tuple(names.ALL_PACKAGE_NAMES if allowed_names is None else allowed_names)
    if name == names.DIAGNOSTIC_TOOL or name in allowed:
        return
    raise bad_request(
        "OB.Package.Name.NotSupport", f"Unsupported name '{name}', the supported names are [{', '.join(allowed)}]"
    )


def _build_key(version, build):
    """Raises ValueError unless the version is dotted numbers and the build a number."""
    return version_tuple(version), int(build)


def _check_version_and_release(header):
    prefix = "failed to check version and release: "
    if len(header.release.split(".")) < 2:
        raise bad_request("Package.ReleaseFormat.Invalid", f"{prefix}Release format {header.release} is illegal")
    try:
        supported = version_tuple(header.version) >= version_tuple(MIN_SUPPORTED_VERSION)
    except ValueError:
        supported = False
    if not supported:
        raise bad_request(
            "Agent.OBVersionNotSupported",
            f"{prefix}Unsupported OB version '{header.version}', the minimum supported version is '{MIN_SUPPORTED_VERSION}'",
        )


def _missing(header, expected):
    missing = [path for path in expected if path not in header.files]
    if missing:
        raise server_error(
            "OB.Package.MissingFile", f"These files are missing in package '{header.name}': '[{' '.join(missing)}]'"
        )


def _needs_upgrade_files(header, current_build_version):
    if current_build_version is None:
        return any(path in header.files for path in names.UPGRADE_FILES)
    current_version, _, current_build = current_build_version.partition("-")[0].partition("_")
    try:
        newer = _build_key(header.version, header.release.split(".")[0]) > _build_key(current_version, current_build)
    except ValueError:
        newer = False
    return newer and header.version != current_version


def _check_files(header, current_build_version):
    """Raise OB.Package.MissingFile for what the package must carry; True when it carries the dep YAML."""
    if header.name == names.OCEANBASE_CE_LIBS:
        if not header.files.get(names.LIB_DIR):
            raise server_error(
                "OB.Package.MissingFile", f"These files are missing in package '{header.name}': '{names.LIB_DIR}'"
            )
        return False
    if header.name == names.OBSHELL:
        _missing(header, [names.OBSHELL_BINARY])
        return False
    expected = [names.OBSERVER] if header.name == names.OCEANBASE else [names.OBSERVER, names.OBSHELL_BINARY]
    upgrade = _needs_upgrade_files(header, current_build_version)
    if upgrade:
        expected += names.UPGRADE_FILES
    _missing(header, expected)
    return upgrade


def store_package(received):
    """Move the received file into place and save its row (in the caller's transaction); the stored file is
    removed again when saving fails (an IntegrityError included, which the caller resolves)."""
    package = received.package
    with open(received.path, "rb") as f:
        package.file.save(received.filename, _MovableFile(f, received.path), save=False)
    try:
        package.save()
    except BaseException:
        package.file.delete(save=False)
        raise
    return package


def delete_stored_file(package):
    """Remove a package's file from the store (after its row is gone)."""
    package.file.delete(save=False)


__all__ = ["Received", "delete_stored_file", "received_package", "store_package", "upload_filename"]
