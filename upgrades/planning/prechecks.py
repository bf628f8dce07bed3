"""The pre-checks of `POST /api/v1/ob/upgrade[/check]` in obshell's order (spec 4), evaluated on the backend state.

obshell stops at the first failure; a plan evaluates every check so the UI can show them all. A check whose input
comes from an earlier check that did not pass is reported as not evaluated (ok=None). Because the order is
obshell's, the first failed check is exactly the error obshell would answer with.
"""

import posixpath
import re
import uuid
from dataclasses import asdict, dataclass

from upgrades.errors import ObshellError, maintenance_in_progress
from upgrades.models import Dag
from upgrades.packages import selectors
from upgrades.planning import route as routes
from upgrades.planning.templates import ROLLING, STOPSERVICE, dag_name
from upgrades.planning.versions import (
    COMPATIBLE_SYNC_BELOW,
    MIN_SUPPORTED_VERSION,
    compare_build_versions,
    is_version,
    split_release,
    split_server_build,
)


@dataclass
class Check:
    key: str
    title: str
    ok: bool | None
    err_code: str = ""
    message: str = ""
    status: int = 0
    hint: str = ""

    def as_dict(self):
        return asdict(self)

    @property
    def error(self):
        if self.ok is not False:
            return None
        return ObshellError(self.err_code, self.message, status=self.status)


# key -> (title, fix hint shown in the UI)
CHECKS = {
    "params": ("Request parameters", "Give a version, a full rpm release (e.g. 101000062023110109.el7) and a mode."),
    "agents": (
        "Agents and observers available",
        "Start the stopped obshell agents and observers (or refresh the topology) before upgrading.",
    ),
    "mode": ("Upgrade mode", "Use ROLLING or STOPSERVICE (any letter case)."),
    "zones": (
        "Zones for a rolling upgrade",
        "A rolling upgrade needs at least 3 zones (2 with shared storage); use STOPSERVICE on smaller clusters.",
    ),
    "python": (
        "Python environment",
        "Install python and its mysql.connector module (mysql-connector-python) on every host.",
    ),
    "upgrade_dir": (
        "Upgrade directory",
        "Leave it empty for the default, or give an absolute path of letters, digits and -_:@/. without '..'.",
    ),
    "tenants_schema": ("Tenant schemas refreshed", "Wait until every tenant has refreshed its schema, then retry."),
    "tablets_merging": ("No tablet merging", "Wait for the running merges to finish, then retry."),
    "major_compaction": ("No major compaction", "Wait for the tenants' major compaction to finish, then retry."),
    "min_observer_version": (
        "min_observer_version in sync",
        "Finish the previous upgrade first: every server must report the same min_observer_version.",
    ),
    "tenant_compatible": (
        "Tenant compatible in sync",
        "Finish the previous upgrade's post script so every tenant has the same 'compatible'.",
    ),
    "backup": ("No running backup", "Wait for the running backup jobs (CDB_OB_BACKUP_JOBS) to finish or cancel them."),
    "release": (
        "Release format",
        "Give the rpm's full Release, build and distribution, e.g. 101000062023110109.el7.",
    ),
    "min_version": ("Target is 4.2.0.0 or newer", "Pick a target version of 4.2.0.0 or later."),
    "newer": (
        "Target newer than the cluster",
        "Pick a newer version or a higher build of the same version (a hotfix); downgrades are not possible.",
    ),
    "target_package": (
        "Target package uploaded",
        "Upload the target rpm for this edition and the cluster agent's architecture (Packages page or add_package).",
    ),
    "dep_yaml": (
        "Upgrade dependency file",
        "Upload a target package that contains etc/oceanbase_upgrade_dep.yml (release packages do).",
    ),
    "route": (
        "Upgrade route",
        "Pick a target the dependency file can reach from the current version, and not a deprecated build.",
    ),
    "packages": ("Packages for every hop", "Upload the missing rpms listed for every hop and architecture."),
    "maintenance": (
        "No unfinished maintenance DAG",
        "Finish the holder first: retry, roll back or pass its failed DAG, or wait until it ends.",
    ),
}

UPGRADE_ORDER = (
    "params",
    "agents",
    "mode",
    "zones",
    "python",
    "upgrade_dir",
    "tenants_schema",
    "tablets_merging",
    "major_compaction",
    "min_observer_version",
    "tenant_compatible",
    "backup",
    "release",
    "min_version",
    "newer",
    "target_package",
    "dep_yaml",
    "route",
    "packages",
    "maintenance",
)
# POST /api/v1/ob/upgrade/check: steps 1, 6, 8 and 5, in that order (identity is implicit here).
CHECK_ORDER = (
    "params",
    "upgrade_dir",
    "release",
    "min_version",
    "newer",
    "target_package",
    "dep_yaml",
    "route",
    "packages",
    "python",
)

# Inputs each check needs from earlier checks.
NEEDS = {
    "zones": ("mode",),
    "min_version": ("params", "release"),
    "newer": ("params", "release", "current"),
    "target_package": ("params", "release", "current"),
    "dep_yaml": ("target_package", "current"),
    "route": ("dep_yaml", "min_version", "newer"),
    "packages": ("route",),
    "tenant_compatible": ("current",),
}

PATH_PATTERN = "^[a-zA-Z0-9\u4e00-\u9fa5\\-_:@/\\.]*$"
_PATH_RE = re.compile(PATH_PATTERN)


def invalid_path_reason(path):
    """obshell's CheckPathValid: None when valid, else the reason text."""
    if not path.startswith("/"):
        return "should start with '/'"
    if not _PATH_RE.match(path):
        return f"should match pattern {PATH_PATTERN}"
    parent = f"/{uuid.uuid4()}"
    if not posixpath.normpath(posixpath.join(parent, path.lstrip("/"))).startswith(parent):
        return "should not lead to directory traversal issues when joined with a generated parent path"
    return None


def _count(value):
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, list | tuple):
        return len(value)
    return 1 if value else 0


def _names(value):
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    if isinstance(value, str):
        return [value] if value else []
    # A bare `true` flag: the sys tenant is the one whose schema lags.
    return ["sys"] if value else []


# --- package lookups ---------------------------------------------------------------------------------------------


def _find_package(*, name, version, arch, release_distribution=None, distribution=None, exclude_releases=()):
    """The newest stored package: by exact rpm Release, or any non-excluded release of a distribution."""
    if release_distribution is not None:
        return selectors.find_package(name=name, version=version, release_distribution=release_distribution, arch=arch)
    return selectors.find_package_any_release(
        name=name, version=version, distribution=distribution, arch=arch, exclude_releases=tuple(exclude_releases)
    )


# --- the evaluation ---------------------------------------------------------------------------------------------


class Prechecks:
    """Evaluates the checks for one request against one cluster's topology (loaded once by the caller)."""

    def __init__(self, *, cluster, topology, version, release, mode, upgrade_dir):
        self.cluster = cluster
        self.topology = topology
        self.version = (version or "").strip()
        self.release = (release or "").strip()
        self.raw_mode = mode or ""
        self.mode = ""
        self.raw_upgrade_dir = upgrade_dir or ""
        self.upgrade_dir = self.raw_upgrade_dir.strip()
        self.current_version = ""
        self.current_build = ""
        self.target_build = ""
        self.distribution = ""
        self.target_package = None
        self.route = None
        self.packages = []
        self.results = {}

    @property
    def current_build_version(self):
        return f"{self.current_version}-{self.current_build}" if self.current_version else ""

    @property
    def target_build_version(self):
        return f"{self.version}-{self.target_build}" if self.target_build else ""

    def run(self, order, *, require_mode):
        self.require_mode = require_mode
        self._load_current()
        checks = []
        for key in order:
            title, hint = CHECKS[key]
            blocked = self._blocked_by(key)
            if blocked:
                check = Check(key, title, None, message=f"Not evaluated: {blocked}", hint=hint)
            else:
                check = Check(key, title, True, hint=hint)
                try:
                    note = getattr(self, f"check_{key}")()
                    check.message = note or ""
                except ObshellError as exc:
                    check.ok = False
                    check.err_code, check.message, check.status = exc.err_code, exc.message, exc.status
                except ValueError as exc:
                    # Backend data planning cannot read (e.g. a server reporting a non-numeric version).
                    check.ok = False
                    check.err_code, check.message, check.status = "Common.Unexpected", f"Unexpected error: {exc}", 500
            self.results[key] = check
            checks.append(check)
        return checks

    def _load_current(self):
        agent = self.topology.agent_server
        if agent is not None:
            self.current_version, self.current_build = split_server_build(agent.build_version)

    def _blocked_by(self, key):
        for need in NEEDS.get(key, ()):
            if need == "current":
                if not self.current_version:
                    return "the cluster has no server to read its current build from"
                continue
            result = self.results.get(need)
            if result is not None and result.ok is not True:
                return f"'{result.title}' did not pass"
        return ""

    # --- spec 4 step 0 ---
    def check_params(self):
        missing = [("Version", self.version), ("Release", self.release)]
        if self.require_mode:
            missing.append(("Mode", self.raw_mode))
        missing = [field for field, value in missing if not value]
        if missing:
            struct = "ObUpgradeParam" if self.require_mode else "UpgradeCheckParam"
            detail = "\n".join(
                f"Key: '{struct}.{f}' Error:Field validation for '{f}' failed on the 'required' tag" for f in missing
            )
            raise ObshellError("Common.BindJsonFailed", f"Bind JSON failed: {detail}", status=400)

    # --- step 2 ---
    def check_agents(self):
        servers = self.topology.servers
        if not servers:
            raise ObshellError("Common.Unexpected", "Unexpected error: the cluster has no servers", status=500)
        down_agents = [s.agent_address for s in servers if s.status != s.Status.ACTIVE]
        if down_agents:
            raise ObshellError("Agent.Unavailable", f"Agent {','.join(down_agents)} is not available", status=500)
        down_observers = [f"{s.ip}:{s.sql_port}" for s in servers if not s.process_running]
        if down_observers:
            raise ObshellError(
                "OB.Server.Unavailable", f"Observer '{','.join(down_observers)}' is not available", status=500
            )
        return f"{len(servers)} agents and observers available; current build {self.current_build_version}"

    # --- step 4 ---
    def check_mode(self):
        mode = self.raw_mode.upper()
        if mode not in (ROLLING, STOPSERVICE):
            raise ObshellError("OB.Upgrade.Mode.NotSupported", f"Upgrade mode '{mode}' is not supported", status=400)
        self.mode = mode
        return mode

    def check_zones(self):
        zones = len(self.topology.zones)
        if self.mode != ROLLING:
            return f"{zones} zone(s); a stop-service upgrade needs no minimum"
        needed = 2 if self.cluster.shared_storage else 3
        if zones < needed:
            raise ObshellError(
                "OB.Upgrade.UnableToRollingUpgrade",
                "Rolling upgrade is not supported when zone number is lower than 3",
                status=400,
            )
        return f"{zones} zones"

    # --- step 5 ---
    def check_python(self):
        health = self.cluster.health or {}
        if health.get("python_missing"):
            raise ObshellError("Environment.WithoutPython", "Please check if Python is installed", status=500)
        if health.get("mysql_connector_missing"):
            raise ObshellError(
                "Environment.WithoutModule", "Please check if Python module 'mysql.connector' is installed", status=500
            )
        hosts = len({s.ip for s in self.topology.servers})
        return f"python and mysql.connector found on {hosts} host(s)"

    # --- step 6 ---
    def check_upgrade_dir(self):
        if not self.upgrade_dir:
            return "default: <obshell home>/upgrade"
        # obshell trims the value but validates the untrimmed text, so surrounding spaces fail here too.
        reason = invalid_path_reason(self.raw_upgrade_dir)
        if reason:
            raise ObshellError(
                "Common.InvalidPath", f"Path '{self.raw_upgrade_dir}' is not valid: {reason}", status=400
            )
        return self.upgrade_dir

    # --- step 7 ---
    def check_tenants_schema(self):
        names = _names((self.cluster.health or {}).get("tenants_schema_not_refreshed"))
        if names:
            raise ObshellError(
                "OB.Upgrade.TenantsSchemaNotRefreshed",
                f"There are tenants with unfreshed schema: {','.join(names)}",
                status=400,
            )

    def check_tablets_merging(self):
        count = _count((self.cluster.health or {}).get("tablets_merging"))
        if count:
            raise ObshellError("OB.Upgrade.TabletInMerging", f"There are {count} tablets merging", status=400)

    def check_major_compaction(self):
        count = _count((self.cluster.health or {}).get("tenants_in_major_compaction"))
        if count:
            raise ObshellError("OB.Upgrade.TenantInMajorCompaction", f"There are {count} tenants merging", status=400)

    def check_min_observer_version(self):
        if (self.cluster.health or {}).get("min_observer_version_not_sync"):
            raise ObshellError("OB.Upgrade.MinObserverVersionNotSync", "min_observer_version is not sync", status=400)
        return self.current_version

    def check_tenant_compatible(self):
        # obshell compares min_observer_version to 4.3.3.0 as strings, not numerically.
        if self.current_version >= COMPATIBLE_SYNC_BELOW:
            return f"not required from min_observer_version {COMPATIBLE_SYNC_BELOW}"
        if (self.cluster.health or {}).get("tenant_compatible_not_sync"):
            raise ObshellError("OB.Upgrade.TenantCompatibleNotSync", "Tenant compatible is not sync", status=400)

    def check_backup(self):
        count = _count((self.cluster.health or {}).get("running_backup_task"))
        if count:
            raise ObshellError(
                "OB.Upgrade.HasRunningBackupTask",
                f"There are {count} running backup tasks, upgrade is not allowed temporarily",
                status=400,
            )

    # --- step 8 ---
    def check_release(self):
        if not self.release:
            raise ObshellError("Package.ReleaseFormat.Invalid", f"Release format {self.release} is illegal", status=400)
        self.target_build, self.distribution = split_release(self.release)
        return f"build {self.target_build}, distribution {self.distribution}"

    def check_min_version(self):
        if not is_version(self.version) or not self.target_build.isdigit():
            raise ObshellError(
                "Common.IllegalArgument",
                f"The input parameter 'version' is illegal: '{self.version}-{self.target_build}' is not "
                "<A.B.C.D>-<build number>",
                status=400,
            )
        target = self.target_build_version
        if compare_build_versions(target, MIN_SUPPORTED_VERSION) < 0:
            raise ObshellError(
                "Agent.OBVersionNotSupported",
                f"Unsupported OB version '{target}', the minimum supported version is '{MIN_SUPPORTED_VERSION}'",
                status=400,
            )

    def check_newer(self):
        target, current = self.target_build_version, self.current_build_version
        if not is_version(self.version) or compare_build_versions(target, current) <= 0:
            raise ObshellError(
                "OB.Upgrade.ToLowerVersion",
                f"Target version {target} is not greater than current version {current}. "
                "Please verify if the parameters have been filled out correctly",
                status=400,
            )
        kind = "hotfix" if self.version == self.current_version else "upgrade"
        return f"{kind} from {current} to {target}"

    def check_target_package(self):
        name = self.cluster.target_package_name
        arch = self.topology.agent_server.arch
        package = _find_package(name=name, version=self.version, release_distribution=self.release, arch=arch)
        if package is None:
            raise ObshellError(
                "Common.Unexpected", f"{name}-{self.version}-{self.release}.{arch}.rpm: record not found", status=500
            )
        self.target_package = package
        return package.rpm_name

    def check_dep_yaml(self):
        if self.version == self.current_version:
            return "hotfix of the same version: no dependency file needed"
        if not (self.target_package.upgrade_dep_yaml or "").strip():
            raise ObshellError(
                "OB.Upgrade.DepYamlMissing", "Target package upgrade dependency YAML is empty", status=500
            )
        return f"oceanbase_upgrade_dep.yml from {self.target_package.rpm_name}"

    def check_route(self):
        self.route = routes.route_for(
            self.target_package.upgrade_dep_yaml,
            current_version=self.current_version,
            current_build=self.current_build,
            target_version=self.version,
            target_build=self.target_build,
        )
        return " -> ".join(n.build_version for n in self.route)

    def check_packages(self):
        archs = list(dict.fromkeys(s.arch for s in self.topology.servers))
        missing, found = [], []
        for node in self.route[1:]:
            for arch in archs:
                for name in self.cluster.required_package_names:
                    if node.release == routes.RELEASE_NULL:
                        label = f"{name}-{node.version}-${{release}}.{self.distribution}.{arch}.rpm"
                        package = _find_package(
                            name=name,
                            version=node.version,
                            distribution=self.distribution,
                            arch=arch,
                            exclude_releases=node.deprecated_info,
                        )
                    else:
                        label = f"{name}-{node.build_version}.{self.distribution}.{arch}.rpm"
                        package = _find_package(
                            name=name,
                            version=node.version,
                            release_distribution=f"{node.release}.{self.distribution}",
                            arch=arch,
                        )
                    if package is None:
                        missing.append(label)
                    else:
                        found.append(package)
        if missing:
            raise ObshellError(
                "OB.Package.NotExist", f"These packages are missing: '[{' '.join(missing)}]'", status=400
            )
        self.packages = found
        return f"{len(found)} package(s) for {len(self.route) - 1} hop(s) and {len(archs)} architecture(s)"

    # --- step 9 ---
    def check_maintenance(self):
        holder = Dag.objects.filter(cluster=self.cluster, holds_lock=True).only("id", "name").first()
        if holder is not None:
            name = dag_name(mode=self.mode, version=self.version, release=self.release) if self.mode else ""
            raise maintenance_in_progress(holder_name=holder.name, dag_name=name)
