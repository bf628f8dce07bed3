"""OceanBase version strings as obshell reads them (spec 4 steps 3 and 8).

* A version is `A.B.C.D`; a build version is `<version>-<build>`, e.g. `4.2.1.0-100000102023092807`.
* An rpm Release is `<build>.<distribution>`, e.g. `101000062023110109.el7`.
* A server's BUILD_VERSION is `<version>_<build>` (anything after the first `-` is dropped).
"""

import re

from upgrades.errors import bad_request
from upgrades.planning.gostrconv import go_atoi_lenient

MIN_SUPPORTED_VERSION = "4.2.0.0"
# Below this min_observer_version obshell also requires every tenant's `compatible` to agree (spec 4 step 7).
COMPATIBLE_SYNC_BELOW = "4.3.3.0"

_VERSION_RE = re.compile(r"^\d+(\.\d+)*$")


def is_version(text):
    return bool(_VERSION_RE.match(text or ""))


def version_tuple(version):
    """`4.2.1.0` -> (4, 2, 1, 0). Raises ValueError for anything that is not dot-separated integers."""
    if not is_version(version):
        raise ValueError(f"{version!r} is not a dotted numeric version")
    return tuple(int(part) for part in version.split("."))


def version_sort_key(version):
    """Like version_tuple, but never fails (a part that is not a number sorts as 0): for ordering what servers
    report, never for a check."""
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


def build_version_key(build_version):
    """Sort key of `<version>-<build>` as obshell's CompareVersion reads it (ob/agent/lib/pkg/version.go): the
    dot-separated parts as integers, then the build as an integer, where a part that is not a number counts as
    0 (`v, _ := strconv.Atoi(part)`), and a longer version is greater when the common parts agree. So a
    version with a non-numeric part is not refused for its form: it compares as if that part were 0 (e.g.
    `4.x.0.0` is below 4.2.0.0: Agent.OBVersionNotSupported), as obshell answers."""
    parts = build_version.split("-")
    version = parts[0]
    build = go_atoi_lenient(parts[1]) if len(parts) > 1 else 0
    return tuple(go_atoi_lenient(part) for part in version.split(".")), build


def compare_build_versions(left, right):
    """-1, 0 or 1, comparing two `<version>[-<build>]` strings as obshell does."""
    a, b = build_version_key(left), build_version_key(right)
    return (a > b) - (a < b)


def split_release(release):
    """obshell's SplitRelease: `<build>.<...>.<distribution>` -> (build, distribution); fewer than 2 parts is 400."""
    parts = (release or "").split(".")
    if len(parts) < 2:
        raise bad_request("Package.ReleaseFormat.Invalid", f"Release format {release} is illegal")
    return parts[0], parts[-1]


def split_server_build(build_version):
    """A server's `4.2.1.0_100000102023092807[-tail]` -> ("4.2.1.0", "100000102023092807")."""
    head = (build_version or "").split("-", 1)[0]
    version, _, build = head.partition("_")
    return version, build


def join_build_version(version, build):
    return f"{version}-{build}" if build else version


def require_version(value, field="version"):
    """The request's version must be A.B.C.D-like before anything compares it (obshell would compare garbage)."""
    if not is_version(value):
        raise bad_request(
            "Common.IllegalArgument",
            f"The input parameter '{field}' is illegal: {value!r} is not a dotted numeric version",
        )
    return value


def _go_atoi(text):
    """strconv.Atoi with its error ignored, as obshell's CompareVersion uses it: 0 for anything that is not an
    optionally signed decimal, clamped to int64 on overflow."""
    digits = text[1:] if text[:1] in "+-" else text
    if not digits.isascii() or not digits.isdigit():
        return 0
    if len(digits.lstrip("0")) > 19:  # past int64 (and short of Python's int() digit limit on hostile input)
        return -(2**63) if text[0] == "-" else 2**63 - 1
    value = int(text)
    return max(min(value, 2**63 - 1), -(2**63))


def compare_versions_as_obshell(left, right):
    """obshell's pkg.CompareVersion (ob/agent/lib/pkg/version.go) on two `<version>-<release>` strings: -1, 0
    or 1. Lenient, as obshell is: a part that is not a number counts as 0, a longer version wins a tie of the
    common parts, and only the text between the first and second `-` is the release. The agent-upgrade checks
    use it (upgrade_agent_check.go checkTargetVersionSupport), where obshell validates nothing else."""

    def split(text):
        pieces = text.split("-")
        release = _go_atoi(pieces[1]) if len(pieces) > 1 else 0
        return [_go_atoi(part) for part in pieces[0].split(".")], release

    (a, a_rel), (b, b_rel) = split(left or ""), split(right or "")
    for x, y in zip(a, b, strict=False):
        if x != y:
            return 1 if x > y else -1
    if len(a) != len(b):
        return 1 if len(a) > len(b) else -1
    return (a_rel > b_rel) - (a_rel < b_rel)
