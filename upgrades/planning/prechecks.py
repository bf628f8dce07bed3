"""The pre-checks of `POST /api/v1/ob/upgrade[/check]` (spec 4), evaluated on the backend state.

obshell stops at the first failure; a plan evaluates every check so the UI can show them all. A check whose input
comes from an earlier check that did not pass is reported as not evaluated (ok=None). Because the orders in
`precheck_catalogue` are obshell's, the first failed check is exactly the error obshell would answer with. Each
`check_<key>` method here has its title, fix hint and inputs under the same key in that catalogue.
"""

import posixpath
import re
import uuid
from dataclasses import asdict, dataclass

from upgrades.errors import ObshellError, bad_request, maintenance_in_progress, server_error
from upgrades.models import Dag
from upgrades.packages import selectors
from upgrades.planning import route as routes
from upgrades.planning.environment import MODULE, cluster_environment_error, real_execute_agents
from upgrades.planning.precheck_catalogue import CATALOGUE
from upgrades.planning.stages import dag_name
from upgrades.planning.versions import (
    COMPATIBLE_SYNC_BELOW,
    MIN_SUPPORTED_VERSION,
    compare_build_versions,
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


def _tenant_names(value):
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

    catalogue = CATALOGUE  # a subclass with its own checks brings their titles and hints

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
        # Per hop of the route (route[1:]), the rpm names not in the store; None until the packages check ran.
        self.missing_by_hop = None
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
            info = self.catalogue[key]
            blocked = self._blocked_by(info)
            if blocked:
                check = Check(key, info.title, None, message=f"Not evaluated: {blocked}", hint=info.hint)
            else:
                check = Check(key, info.title, True, hint=info.hint)
                try:
                    note = getattr(self, f"check_{key}")()
                    check.message = note or ""
                except ObshellError as exc:
                    check.ok = False
                    check.err_code, check.message, check.status = exc.err_code, exc.message, exc.status
                except ValueError as exc:
                    # Backend data planning cannot read (e.g. a server reporting a non-numeric version).
                    check.ok = False
                    message = f"Unexpected error: {str(exc)[:500]}"  # bounded, whatever the backend sent
                    check.err_code, check.message, check.status = "Common.Unexpected", message, 500
            self.results[key] = check
            checks.append(check)
        return checks

    def _load_current(self):
        agent = self.topology.agent_server
        if agent is not None:
            self.current_version, self.current_build = split_server_build(agent.build_version)

    def _blocked_by(self, info):
        for need in info.needs:
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
            raise bad_request("Common.BindJsonFailed", f"Bind JSON failed: {detail}")

    # --- step 2 ---
    def check_agents(self):
        servers = self.topology.servers
        if not servers:
            raise server_error("Common.Unexpected", "Unexpected error: the cluster has no servers")
        down_agents = [s.agent_address for s in servers if s.status != s.Status.ACTIVE]
        if down_agents:
            raise server_error("Agent.Unavailable", f"Agent {','.join(down_agents)} is not available")
        down_observers = [f"{s.ip}:{s.sql_port}" for s in servers if not s.process_running]
        if down_observers:
            raise server_error("OB.Server.Unavailable", f"Observer '{','.join(down_observers)}' is not available")
        return f"{len(servers)} agents and observers available; current build {self.current_build_version}"

    # --- step 4 ---
    def check_mode(self):
        mode = self.raw_mode.upper()
        if mode not in Dag.Mode.values:
            raise bad_request("OB.Upgrade.Mode.NotSupported", f"Upgrade mode '{mode}' is not supported")
        self.mode = mode
        return mode

    def check_zones(self):
        zones = len(self.topology.zones)
        if self.mode != Dag.Mode.ROLLING:
            return f"{zones} zone(s); a stop-service upgrade needs no minimum"
        needed = 2 if self.cluster.shared_storage else 3
        if zones < needed:
            raise bad_request(
                "OB.Upgrade.UnableToRollingUpgrade",
                # obshell's current text (ob/agent/assets/i18n/error/en.json, err.ob.upgrade.unable.to.rolling.upgrade)
                "Rolling upgrade requires at least 3 zones (or 2 zones for shared storage mode)",
            )
        return f"{zones} zones"

    # --- step 5 ---
    def check_python(self):
        servers = self.topology.servers
        error = cluster_environment_error(self.cluster, servers, self.topology.agent_server)
        if error is not None:
            raise error
        hosts = len(real_execute_agents(servers))
        return f"python and {MODULE} found on {hosts} host(s)"

    # --- step 6 ---
    def check_upgrade_dir(self):
        if not self.upgrade_dir:
            return "default: <obshell home>/upgrade"
        # obshell trims the value but validates the untrimmed text, so surrounding spaces fail here too.
        reason = invalid_path_reason(self.raw_upgrade_dir)
        if reason:
            raise bad_request("Common.InvalidPath", f"Path '{self.raw_upgrade_dir}' is not valid: {reason}")
        return self.upgrade_dir

    # --- step 7 ---
    def check_tenants_schema(self):
        names = _tenant_names((self.cluster.health or {}).get("tenants_schema_not_refreshed"))
        if names:
            raise bad_request(
                "OB.Upgrade.TenantsSchemaNotRefreshed",
                f"There are tenants with unfreshed schema: {','.join(names)}",
            )

    def check_tablets_merging(self):
        count = _count((self.cluster.health or {}).get("tablets_merging"))
        if count:
            raise bad_request("OB.Upgrade.TabletInMerging", f"There are {count} tablets merging")

    def check_major_compaction(self):
        count = _count((self.cluster.health or {}).get("tenants_in_major_compaction"))
        if count:
            raise bad_request("OB.Upgrade.TenantInMajorCompaction", f"There are {count} tenants merging")

    def check_min_observer_version(self):
        if (self.cluster.health or {}).get("min_observer_version_not_sync"):
            raise bad_request("OB.Upgrade.MinObserverVersionNotSync", "min_observer_version is not sync")
        return self.current_version

    def check_tenant_compatible(self):
        # obshell compares min_observer_version to 4.3.3.0 as strings, not numerically.
        if self.current_version >= COMPATIBLE_SYNC_BELOW:
            return f"not required from min_observer_version {COMPATIBLE_SYNC_BELOW}"
        if (self.cluster.health or {}).get("tenant_compatible_not_sync"):
            raise bad_request("OB.Upgrade.TenantCompatibleNotSync", "Tenant compatible is not sync")

    def check_backup(self):
        count = _count((self.cluster.health or {}).get("running_backup_task"))
        if count:
            raise bad_request(
                "OB.Upgrade.HasRunningBackupTask",
                f"There are {count} running backup tasks, upgrade is not allowed temporarily",
            )

    # --- step 8 ---
    def check_release(self):
        if not self.release:
            raise bad_request("Package.ReleaseFormat.Invalid", f"Release format {self.release} is illegal")
        self.target_build, self.distribution = split_release(self.release)
        return f"build {self.target_build}, distribution {self.distribution}"

    def check_min_version(self):
        # A part that is not a number compares as 0, as in obshell (upgrades/planning/versions.py): no refusal
        # of its own, the comparisons below answer.
        target = self.target_build_version
        if compare_build_versions(target, MIN_SUPPORTED_VERSION) < 0:
            raise bad_request(
                "Agent.OBVersionNotSupported",
                f"Unsupported OB version '{target}', the minimum supported version is '{MIN_SUPPORTED_VERSION}'",
            )

    def check_newer(self):
        target, current = self.target_build_version, self.current_build_version
        if compare_build_versions(target, current) <= 0:
            raise bad_request(
                "OB.Upgrade.ToLowerVersion",
                f"Target version {target} is not greater than current version {current}. "
                "Please verify if the parameters have been filled out correctly",
            )
        kind = "hotfix" if self.version == self.current_version else "upgrade"
        return f"{kind} from {current} to {target}"

    def check_target_package(self):
        name = self.cluster.target_package_name
        arch = self.topology.agent_server.arch
        package = _find_package(name=name, version=self.version, release_distribution=self.release, arch=arch)
        if package is None:
            raise server_error(
                "Common.Unexpected", f"{name}-{self.version}-{self.release}.{arch}.rpm: record not found"
            )
        self.target_package = package
        return package.rpm_name

    def check_dep_yaml(self):
        if self.version == self.current_version:
            return "hotfix of the same version: no dependency file needed"
        if not (self.target_package.upgrade_dep_yaml or "").strip():
            raise server_error("OB.Upgrade.DepYamlMissing", "Target package upgrade dependency YAML is empty")
        return f"oceanbase_upgrade_dep.yml from {self.target_package.rpm_name}"

    def check_route(self):
        self.route = routes.route_for(
            self.target_package.upgrade_dep_yaml,
            current_version=self.current_version,
            current_build=self.current_build,
            target_version=self.version,
            target_build=self.target_build,
        )
        note = routes.deprecated_build_note(
            self.target_package.upgrade_dep_yaml,
            current_version=self.current_version,
            target_version=self.version,
            target_build=self.target_build,
        )
        route = " -> ".join(n.build_version for n in self.route)
        return f"{route} ({note})" if note else route

    def check_packages(self):
        archs = list(dict.fromkeys(s.arch for s in self.topology.servers))
        missing, found = [], []
        self.missing_by_hop = []
        for node in self.route[1:]:
            self.missing_by_hop.append([])
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
                        self.missing_by_hop[-1].append(label)
                    else:
                        found.append(package)
        if missing:
            raise bad_request("OB.Package.NotExist", f"These packages are missing: '[{' '.join(missing)}]'")
        self.packages = found
        return f"{len(found)} package(s) for {len(self.route) - 1} hop(s) and {len(archs)} architecture(s)"

    # --- step 9 ---
    def check_maintenance(self):
        holder = Dag.objects.filter(cluster=self.cluster, holds_lock=True).only("id", "name").first()
        if holder is not None:
            name = dag_name(mode=self.mode, version=self.version, release=self.release) if self.mode else ""
            raise maintenance_in_progress(holder_name=holder.name, dag_name=name)
