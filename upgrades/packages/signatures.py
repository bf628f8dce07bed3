"""RPM signatures against PACKAGE_KEYRING, checked by the `rpm` tool (no OpenPGP is parsed here).

The keyring file (ASCII-armored public keys, one block or several) is imported once per process, and again
when the file changes (cache keyed by path, mtime and size), into a private rpm database in a temporary
directory: `rpmkeys --dbpath DB --import`. Each upload is then checked with `rpmkeys --dbpath DB --checksig
-v FILE`, whose output lists every digest and signature with its verdict.

Decisions (obshell does not check signatures; the errCodes sit beside OB.Package.Name.NotSupport, 400 as
the client sent the file):
* 400 `OB.Package.Unsigned`: the RPM carries no signature at all (its digests may all be fine).
* 400 `OB.Package.Signature.Invalid`: a signature by a key not in the keyring (rpm's NOKEY), a signature or
  digest that does not verify (BAD), or any other verdict than OK; the message quotes rpm's line.
* Accepted: rpmkeys exits 0, every line it prints for the file ends in ": OK", and at least one is a
  signature. The signer recorded is the key's user id and key id ("Name <mail> (key 1234abcd)").
* A keyring that is set but unreadable, or rpmkeys missing, refuses every upload with 500
  `OB.Package.Keyring.Unavailable`: failing closed, as the setting asks for signed packages only.
"""

import atexit
import os
import re
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from upgrades.errors import bad_request, server_error

RPMKEYS = "rpmkeys"
RPM = "rpm"
TIMEOUT_SECONDS = 120
ARMOR_BLOCK = re.compile(r"-----BEGIN PGP PUBLIC KEY BLOCK-----.*?-----END PGP PUBLIC KEY BLOCK-----", re.DOTALL)
SIGNATURE_LINE = re.compile(r"Signature, key ID ([0-9a-fA-F]+): (\S+)$")


@dataclass(frozen=True)
class _Keyring:
    stamp: tuple
    dbpath: str
    users: dict  # lowercase key id (as rpm names it) -> user id


_lock = threading.Lock()
_cache: dict[str, _Keyring] = {}


@atexit.register
def _remove_databases():
    for keyring in list(_cache.values()):
        shutil.rmtree(keyring.dbpath, ignore_errors=True)


def keyring_path() -> str:
    return settings.PACKAGE_KEYRING or ""


def _unavailable(message):
    return server_error("OB.Package.Keyring.Unavailable", f"PACKAGE_KEYRING cannot be used: {message}")


def _run(args):
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
    except FileNotFoundError:
        raise _unavailable(f"the rpm tool ({args[0]}) is not installed") from None
    except subprocess.TimeoutExpired:
        raise _unavailable(f"{args[0]} did not answer in {TIMEOUT_SECONDS} s") from None


def _import(path, stamp):
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise _unavailable(f"{path}: {exc.strerror}") from None
    blocks = ARMOR_BLOCK.findall(text)
    if not blocks:
        raise _unavailable(f"{path} holds no ASCII-armored public key")
    dbpath = tempfile.mkdtemp(prefix="package-keyring-")
    try:
        for block in blocks:
            # One block per import: older rpm releases read only the first key of a file.
            key_file = Path(dbpath) / "key.asc"
            key_file.write_text(block + "\n", encoding="utf-8")
            result = _run([RPMKEYS, "--dbpath", dbpath, "--import", str(key_file)])
            key_file.unlink()
            if result.returncode != 0:
                raise _unavailable(f"rpmkeys --import refused a key of {path}: {result.stderr.strip()[:300]}")
        listed = _run([RPM, "--dbpath", dbpath, "-q", "gpg-pubkey", "--qf", "%{VERSION}\t%{PACKAGER}\n"])
    except BaseException:
        shutil.rmtree(dbpath, ignore_errors=True)
        raise
    users = {}
    for line in listed.stdout.splitlines():
        key_id, _, user = line.partition("\t")
        if key_id:
            users[key_id.strip().lower()] = user.strip()
    return _Keyring(stamp=stamp, dbpath=dbpath, users=users)


def _keyring(path):
    try:
        info = os.stat(path)
    except OSError as exc:
        raise _unavailable(f"{path}: {exc.strerror}") from None
    stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
    with _lock:
        cached = _cache.get(path)
        if cached is not None and cached.stamp == stamp:
            return cached
        fresh = _import(path, stamp)
        if cached is not None:
            shutil.rmtree(cached.dbpath, ignore_errors=True)
        _cache[path] = fresh
        return fresh


def _signer(keyring, key_id):
    key_id = key_id.lower()
    for known, user in keyring.users.items():
        if known.endswith(key_id) or key_id.endswith(known):
            return f"{user} (key {key_id})" if user else f"key {key_id}"
    return f"key {key_id}"


def verify_signature(path, *, filename) -> str:
    """The signer of the RPM at `path` when PACKAGE_KEYRING is set ("" when it is not); raises ObshellError
    when the RPM is unsigned or its signature does not verify against the keyring."""
    keyring_file = keyring_path()
    if not keyring_file:
        return ""
    keyring = _keyring(keyring_file)
    result = _run([RPMKEYS, "--dbpath", keyring.dbpath, "--checksig", "-v", "--", str(path)])
    verdicts = [line.strip() for line in result.stdout.splitlines()[1:] if line.strip()]
    signatures = [SIGNATURE_LINE.search(line) for line in verdicts]
    signatures = [match for match in signatures if match]
    failed = [line for line in verdicts if not line.endswith(": OK")]
    if result.returncode != 0 or failed:
        detail = failed[0] if failed else (result.stderr.strip() or "rpmkeys refused it")[:300]
        raise bad_request(
            "OB.Package.Signature.Invalid", f"'{filename}' is not signed by a key of PACKAGE_KEYRING: {detail}"
        )
    if not signatures:
        raise bad_request("OB.Package.Unsigned", f"'{filename}' carries no signature (PACKAGE_KEYRING is set)")
    return _signer(keyring, signatures[0].group(1))


__all__ = ["keyring_path", "verify_signature"]
