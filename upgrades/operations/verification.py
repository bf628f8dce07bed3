"""After an upgrade: is the cluster where the run meant to leave it? Five checks over facts a backend read
(upgrades/backends/simulated/verification.py, upgrades/backends/obshell/verification.py):

* every server runs the target build;
* `min_observer_version` is the target version on every server;
* every tenant's `compatible` (its data version) is the target version;
* upgrade mode (`enable_upgrade_mode`) is off on every server;
* no zone is stopped.

Each check is "passed", "failed" (with what was found) or "unknown" (with why): a fact the backend could not read
is None and its check is unknown, never passed. The result is plain JSON, kept on a finished run (Dag.verification).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

PASSED, FAILED, UNKNOWN = "passed", "failed", "unknown"
CHECKS = ("servers_on_target", "min_observer_version", "tenant_compatible", "upgrade_mode_off", "no_stopped_zone")
# The parameters the report shows before and after a run, in this order.
REPORTED_PARAMETERS = (
    "min_observer_version",
    "enable_upgrade_mode",
    "compatible",
    "server_permanent_offline_time",
    "enable_rebalance",
    "enable_rereplication",
)
_FALSE = {"false", "0", "off", "no"}
# How many deviations a check lists; the count says how many there were.
MAX_FOUND = 20


@dataclass
class Facts:
    """What a backend could read about a cluster. None: not readable (the reason is in `unknown[check]`)."""

    source: str
    servers: dict[str, str] | None = None  # "ip:port" -> build "<version>_<build>"
    min_observer_version: dict[str, str] | None = None  # "ip:port" -> value
    upgrade_mode: dict[str, str] | None = None  # "ip:port" -> enable_upgrade_mode
    tenants: dict[str, str] | None = None  # tenant name -> compatible
    zones: dict[str, str] | None = None  # zone name -> status (ACTIVE, INACTIVE)
    unknown: dict[str, str] = field(default_factory=dict)  # check key -> why its facts are missing
    parameters: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> {server or tenant: value}


def _check(key: str, status: str, *, found=(), total: int = 0, reason: str = "") -> dict:
    found = list(found)
    return {
        "key": key,
        "status": status,
        "found": [list(pair) for pair in found[:MAX_FOUND]],
        "found_count": len(found),
        "total": total,
        "reason": reason,
    }


def _compare(key: str, values: dict[str, str] | None, facts: Facts, wrong, *, missing: str) -> dict:
    if values is None:
        return _check(key, UNKNOWN, reason=facts.unknown.get(key) or missing)
    if not values:
        return _check(key, UNKNOWN, reason=missing)
    off = [(subject, value) for subject, value in sorted(values.items()) if wrong(value)]
    return _check(key, FAILED if off else PASSED, found=off, total=len(values))


def verify(facts: Facts, *, target_build: str, at: datetime) -> dict:
    """The five checks of `facts` against `target_build` ("<version>_<build>"), as JSON."""
    version = target_build.split("_", 1)[0]
    checks = [
        _compare(
            "servers_on_target", facts.servers, facts, lambda build: build != target_build, missing="no server found"
        ),
        _compare(
            "min_observer_version",
            facts.min_observer_version,
            facts,
            lambda value: value != version,
            missing="min_observer_version was not reported",
        ),
        _compare(
            "tenant_compatible", facts.tenants, facts, lambda value: value != version, missing="no tenant was listed"
        ),
        _compare(
            "upgrade_mode_off",
            facts.upgrade_mode,
            facts,
            lambda value: str(value).strip().lower() not in _FALSE,
            missing="enable_upgrade_mode was not reported",
        ),
        _compare(
            "no_stopped_zone", facts.zones, facts, lambda status: status != "ACTIVE", missing="no zone was listed"
        ),
    ]
    return {
        "target_build": target_build,
        "target_version": version,
        "source": facts.source,
        "checked_at": at.isoformat(),
        "outcome": outcome_of(checks),
        "checks": checks,
        "parameters": {name: facts.parameters[name] for name in REPORTED_PARAMETERS if name in facts.parameters},
    }


def outcome_of(checks: list[dict]) -> str:
    """Failed if any check failed; otherwise unknown if any is unknown; passed only when every check passed."""
    statuses = {check["status"] for check in checks}
    if FAILED in statuses:
        return FAILED
    if UNKNOWN in statuses or not checks:
        return UNKNOWN
    return PASSED


def target_build_of(dag) -> str:
    """The build an upgrade run installs, in the servers' form: "<version>_<build>" (the release without its
    distribution)."""
    return f"{dag.version}_{(dag.release or '').split('.')[0]}"
