"""An upgrade plan: the route, every pre-check with its result and hint, and the DAG's node list (spec 4 and 5).

Planning reads only: it creates nothing, and it never raises for a failed check (`plan.error` carries the first one,
which is the error obshell would answer with).
"""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from upgrades.models.dag import MaintenanceType
from upgrades.planning import stages
from upgrades.planning.precheck_catalogue import CHECK_ORDER, UPGRADE_ORDER
from upgrades.planning.prechecks import Prechecks
from upgrades.planning.stages import Topology

if TYPE_CHECKING:
    from upgrades.models import Cluster


@dataclass
class Plan:
    cluster: "Cluster"
    kind: str
    version: str
    release: str
    mode: str
    upgrade_dir: str
    freeze_server: bool
    from_version: str = ""
    to_version: str = ""
    route: list = field(default_factory=list)
    checks: list = field(default_factory=list)
    packages: list = field(default_factory=list)
    nodes: list = field(default_factory=list)
    max_stage: int = 0
    dag_name: str = ""
    maintenance_type: int = MaintenanceType.GLOBAL
    # An obshell upgrade's rpms not uploaded for some architecture (obshell starts the run anyway).
    missing_packages: list = field(default_factory=list)
    # What the route picture needs: the target's dep file, the cluster's build as (version, build), the target's
    # (version, build), and per hop the rpms not in the store (None when the packages check did not run).
    dep_yaml: str = ""
    current: tuple = ("", "")
    target: tuple = ("", "")
    missing_by_hop: list | None = None

    @property
    def ok(self):
        return all(check.ok is True for check in self.checks)

    @property
    def failed_check(self):
        return next((check for check in self.checks if check.ok is False), None)

    @property
    def error(self):
        check = self.failed_check
        return check.error if check is not None else None

    def raise_if_failed(self):
        error = self.error
        if error is not None:
            raise error
        return self

    @property
    def hops(self):
        return len(self.route)

    def as_dict(self):
        error = self.error
        return {
            "cluster": self.cluster.name,
            "kind": self.kind,
            "version": self.version,
            "release": self.release,
            "mode": self.mode,
            "upgrade_dir": self.upgrade_dir,
            "freeze_server": self.freeze_server,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "route": list(self.route),
            "checks": [check.as_dict() for check in self.checks],
            "packages": list(self.packages),
            "nodes": [dict(node.as_dict(), seq=seq) for seq, node in enumerate(self.nodes, start=1)],
            "max_stage": self.max_stage,
            "dag_name": self.dag_name,
            "maintenance_type": self.maintenance_type,
            "missing_packages": list(self.missing_packages),
            "ok": self.ok,
            "error": error.as_dict() if error is not None else None,
        }


def _package_dict(package):
    return {
        "name": package.name,
        "version": package.version,
        "release_distribution": package.release_distribution,
        "arch": package.arch,
        "sha256": package.sha256,
        "rpm_name": package.rpm_name,
    }


def _evaluate(*, cluster, topology, version, release, mode, upgrade_dir, order, require_mode):
    checks = Prechecks(
        cluster=cluster, topology=topology, version=version, release=release, mode=mode, upgrade_dir=upgrade_dir
    )
    results = checks.run(order, require_mode=require_mode)
    return checks, results


def _fill(plan, checks, results):
    plan.checks = results
    plan.from_version = checks.current_build_version
    plan.to_version = checks.target_build_version
    if checks.route is not None:
        # The DAG's route drops the current version: one entry per hop (spec 4 step 8).
        plan.route = [node.as_dict() for node in checks.route[1:]]
    plan.packages = [_package_dict(p) for p in checks.packages]
    plan.current = (checks.current_version, checks.current_build)
    plan.target = (checks.version, checks.target_build)
    if checks.target_package is not None:
        plan.dep_yaml = checks.target_package.upgrade_dep_yaml or ""
    plan.missing_by_hop = checks.missing_by_hop


def plan_upgrade(*, cluster, version, release, mode, upgrade_dir="", freeze_server=False, topology=None):
    """Plan `POST /api/v1/ob/upgrade` for `cluster`: all pre-checks, the route and the node list."""
    topology = topology or Topology.of(cluster)
    checks, results = _evaluate(
        cluster=cluster,
        topology=topology,
        version=version,
        release=release,
        mode=mode,
        upgrade_dir=upgrade_dir,
        order=UPGRADE_ORDER,
        require_mode=True,
    )
    plan = Plan(
        cluster=cluster,
        kind="upgrade",
        version=checks.version,
        release=checks.release,
        mode=checks.mode,
        upgrade_dir=checks.upgrade_dir,
        freeze_server=bool(freeze_server),
        maintenance_type=MaintenanceType.GLOBAL,
    )
    _fill(plan, checks, results)
    if plan.mode:
        plan.dag_name = stages.dag_name(mode=plan.mode, version=plan.version, release=plan.release)
    zones_ok = checks.results["zones"].ok is True
    if plan.route and plan.mode and zones_ok and topology.servers:
        plan.nodes = stages.upgrade_nodes(
            edition=cluster.edition,
            mode=plan.mode,
            hops=len(plan.route),
            topology=topology,
            freeze_server=plan.freeze_server,
        )
        plan.max_stage = len(plan.nodes)
    return plan


def plan_upgrade_check(*, cluster, version, release, upgrade_dir="", topology=None):
    """Plan `POST /api/v1/ob/upgrade/check`: steps 1, 6, 8, 5 and the 6-node check DAG (no maintenance lock)."""
    topology = topology or Topology.of(cluster)
    checks, results = _evaluate(
        cluster=cluster,
        topology=topology,
        version=version,
        release=release,
        mode="",
        upgrade_dir=upgrade_dir,
        order=CHECK_ORDER,
        require_mode=False,
    )
    plan = Plan(
        cluster=cluster,
        kind="upgrade_check",
        version=checks.version,
        release=checks.release,
        mode="",
        upgrade_dir=checks.upgrade_dir,
        freeze_server=False,
        maintenance_type=MaintenanceType.NONE,
        dag_name=stages.check_dag_name(version=checks.version, release=checks.release),
    )
    _fill(plan, checks, results)
    if topology.servers:
        plan.nodes = stages.check_nodes(topology=topology)
        plan.max_stage = len(plan.nodes)
    return plan
