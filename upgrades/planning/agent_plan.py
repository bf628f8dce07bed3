"""Planning obshell's own upgrade: `POST /api/v1/agent/upgrade/check` and `POST /api/v1/agent/upgrade` (spec 3.1,
4 last paragraph, 5.7).

The checks and their order are obshell's preCheckForAgentUpgrade (ob/agent/executor/ob/upgrade_agent_check.go):
bind, identity (this server is always the cluster agent), every agent's state, `upgradeDir`, the release format
and the target against the cluster agent's own version, the obshell package per architecture; the upgrade then
takes the global maintenance lock when its DAG is created (upgrade_agent.go). Decisions, each from that file:
* Only the agents' state is checked (no observer state, no python, no cluster health).
* The version check is obshell's lenient CompareVersion of `<version>-<build>` against the dialled agent's
  VERSION-RELEASE: here the cluster agent's (Cluster.agent_server) recorded `agent_version`. There is no
  minimum version and no format check beyond the release's dot, so `version: "abc"` is simply lower.
* obshell looks the `obshell` package up for every architecture but never raises when one is missing
  (findTargetPkg fills a list it never returns): the DAG is created and its "Download all required packages"
  step fails with `record not found` on the agents of that architecture. We do the same; the plan still says
  which rpm is missing so the pages can show it.
* The check DAG takes no lock (task.UnMaintenance); the upgrade DAG takes the cluster's GLOBAL maintenance lock,
  the same one an OB upgrade takes, so the two exclude each other (500 OB.Cluster.UnderMaintenanceWithDag).
"""

from upgrades.errors import bad_request, maintenance_in_progress, server_error
from upgrades.models import Dag
from upgrades.models.dag import MaintenanceType
from upgrades.packages import names, selectors
from upgrades.planning import stages
from upgrades.planning.plan import Plan
from upgrades.planning.precheck_catalogue import CheckInfo
from upgrades.planning.prechecks import Prechecks
from upgrades.planning.stages import Topology
from upgrades.planning.versions import compare_versions_as_obshell, split_release

AGENT_CATALOGUE = {
    "agent_params": CheckInfo(
        "Request parameters",
        "Give the obshell rpm's version and its full release (e.g. 100000012024100812.el7).",
    ),
    "agent_states": CheckInfo(
        "Agents available",
        "Start the stopped obshell agents (or refresh the topology) before upgrading obshell.",
    ),
    "agent_upgrade_dir": CheckInfo(
        "Upgrade directory",
        "Leave it empty for the default, or give an absolute path of letters, digits and -_:@/. without '..'.",
    ),
    "agent_release": CheckInfo(
        "Release format",
        "Give the rpm's full Release, build and distribution, e.g. 100000012024100812.el7.",
    ),
    "agent_newer": CheckInfo(
        "Target newer than the cluster agent",
        "Pick an obshell rpm newer than the cluster agent's version; obshell is never downgraded.",
        needs=("agent_params", "agent_release"),
    ),
    "agent_package": CheckInfo(
        "obshell package uploaded",
        "Upload the obshell rpm of this version and release for every architecture the cluster runs.",
        needs=("agent_params", "agent_release"),
    ),
    "agent_maintenance": CheckInfo(
        "No unfinished maintenance DAG",
        "Finish the holder first: retry, roll back or pass its failed DAG, or wait until it ends.",
    ),
}
AGENT_CHECK_ORDER = (
    "agent_params",
    "agent_states",
    "agent_upgrade_dir",
    "agent_release",
    "agent_newer",
    "agent_package",
)
AGENT_UPGRADE_ORDER = (*AGENT_CHECK_ORDER, "agent_maintenance")


class AgentPrechecks(Prechecks):
    catalogue = AGENT_CATALOGUE

    def __init__(self, *, check_only, **kwargs):
        super().__init__(mode="", **kwargs)
        self.check_only = check_only
        self.missing_packages = []

    @property
    def current_agent_version(self):
        agent = self.topology.agent_server
        return agent.agent_version if agent is not None else ""

    def _load_current(self):
        # No OB build is read: nothing here depends on it.
        return None

    @property
    def target_agent_version(self):
        return f"{self.version}-{self.target_build}" if self.target_build else ""

    def dag_name(self):
        name = stages.agent_check_dag_name if self.check_only else stages.agent_dag_name
        return name(version=self.version, release=self.release)

    def check_agent_params(self):
        self.require_mode = False
        self.check_params()
        # Beyond obshell: what the run records must fit its columns (obshell has no limit; neither does its bind).
        too_long = [
            go_name
            for go_name, value, column in (
                ("Version", self.version, "version"),
                ("Release", self.release, "release"),
                ("UpgradeDir", self.raw_upgrade_dir, "upgrade_dir"),
            )
            if len(value) > Dag._meta.get_field(column).max_length
        ]
        if too_long:
            detail = "\n".join(
                f"Key: 'UpgradeCheckParam.{f}' Error:Field validation for '{f}' failed on the 'max' tag"
                for f in too_long
            )
            raise bad_request("Common.BindJsonFailed", f"Bind JSON failed: {detail}")

    def check_agent_states(self):
        servers = self.topology.servers
        if not servers:
            raise server_error("Common.Unexpected", "Unexpected error: the cluster has no servers")
        down = [s.agent_address for s in servers if s.status != s.Status.ACTIVE]
        if down:
            raise server_error("Agent.Unavailable", f"Agent {','.join(down)} is not available")
        return f"{len(servers)} agents running; cluster agent at obshell {self.current_agent_version or '—'}"

    def check_agent_upgrade_dir(self):
        return self.check_upgrade_dir()

    def check_agent_release(self):
        self.target_build, self.distribution = split_release(self.release)
        return f"build {self.target_build}, distribution {self.distribution}"

    def check_agent_newer(self):
        target, current = self.target_agent_version, self.current_agent_version
        if compare_versions_as_obshell(target, current) <= 0:
            raise bad_request(
                "Agent.Upgrade.ToLowerVersion",
                f"Target version {target} is not greater than current version {current}. "
                "Please verify if the parameters have been filled out correctly",
            )
        return f"obshell {current} -> {target}"

    def check_agent_package(self):
        archs = list(dict.fromkeys(s.arch for s in self.topology.servers))
        for arch in archs:
            package = selectors.find_package_by_build(
                name=names.OBSHELL,
                version=self.version,
                build=self.target_build,
                distribution=self.distribution,
                arch=arch,
            )
            if package is None:
                self.missing_packages.append(f"{names.OBSHELL}-{self.version}-{self.release}.{arch}.rpm")
            else:
                self.packages.append(package)
        if self.missing_packages:
            # Never a refusal (see the module docstring): the run's download step fails on those agents.
            return (
                f"not uploaded: {', '.join(self.missing_packages)}; obshell starts the run anyway and its "
                "'Download all required packages' step fails on the agents of that architecture"
            )
        return ", ".join(p.rpm_name for p in self.packages)

    def check_agent_maintenance(self):
        holder = Dag.objects.filter(cluster=self.cluster, holds_lock=True).only("id", "name").first()
        if holder is not None:
            raise maintenance_in_progress(holder_name=holder.name, dag_name=self.dag_name())


def _package_dict(package):
    return {
        "name": package.name,
        "version": package.version,
        "release_distribution": package.release_distribution,
        "arch": package.arch,
        "sha256": package.sha256,
        "rpm_name": package.rpm_name,
    }


def plan_agent_upgrade(*, cluster, version, release, upgrade_dir="", check_only=False, topology=None):
    """Plan `POST /api/v1/agent/upgrade` (or its `/check` with check_only): the checks, the one-node route
    (obshell's PARAM_AGENT_UPGRADE_ROUTE: the requested version and build) and the node list."""
    topology = topology or Topology.of(cluster)
    checks = AgentPrechecks(
        cluster=cluster,
        topology=topology,
        version=version,
        release=release,
        upgrade_dir=upgrade_dir,
        check_only=check_only,
    )
    results = checks.run(AGENT_CHECK_ORDER if check_only else AGENT_UPGRADE_ORDER, require_mode=False)
    plan = Plan(
        cluster=cluster,
        kind=Dag.Kind.AGENT_UPGRADE_CHECK if check_only else Dag.Kind.AGENT_UPGRADE,
        version=checks.version,
        release=checks.release,
        mode="",
        upgrade_dir=checks.upgrade_dir,
        freeze_server=False,
        maintenance_type=MaintenanceType.NONE if check_only else MaintenanceType.GLOBAL,
        dag_name=checks.dag_name(),
    )
    plan.checks = results
    plan.from_version = checks.current_agent_version
    plan.to_version = checks.target_agent_version
    if checks.target_build:
        plan.route = [
            {
                "version": checks.version,
                "release": checks.target_build,
                "build_version": checks.target_agent_version,
                "require_from_binary": False,
            }
        ]
    plan.packages = [_package_dict(p) for p in checks.packages]
    plan.missing_packages = list(checks.missing_packages)
    if topology.servers:
        build = stages.agent_check_nodes if check_only else stages.agent_upgrade_nodes
        plan.nodes = build(topology=topology)
        plan.max_stage = len(plan.nodes)
    return plan
