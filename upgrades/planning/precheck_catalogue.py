"""What the UI shows for each pre-check (its title and the fix hint), the inputs it needs from earlier checks,
and the order each route evaluates them in (spec 4). The checks themselves are in `prechecks`."""

from dataclasses import dataclass

from django.utils.translation import gettext_noop

from upgrades.planning.versions import MIN_SUPPORTED_VERSION


@dataclass(frozen=True)
class CheckInfo:
    title: str
    hint: str
    # Earlier checks (or "current": the cluster's current build) whose result this check reads; when one did
    # not pass, the check is reported as not evaluated.
    needs: tuple = ()


# Written in the order of POST /api/v1/ob/upgrade (UPGRADE_ORDER below).
CATALOGUE = {
    "params": CheckInfo(
        gettext_noop("Request parameters"),
        gettext_noop("Give a version, a full rpm release (e.g. 101000062023110109.el7) and a mode."),
    ),
    "agents": CheckInfo(
        gettext_noop("Agents and observers available"),
        gettext_noop("Start the stopped obshell agents and observers (or refresh the topology) before upgrading."),
    ),
    "mode": CheckInfo(gettext_noop("Upgrade mode"), gettext_noop("Use ROLLING or STOPSERVICE (any letter case).")),
    "zones": CheckInfo(
        gettext_noop("Zones for a rolling upgrade"),
        gettext_noop(
            "A rolling upgrade needs at least 3 zones (2 with shared storage); use STOPSERVICE on smaller clusters."
        ),
        needs=("mode",),
    ),
    "python": CheckInfo(
        gettext_noop("Python environment"),
        gettext_noop("Install python and its mysql.connector module (mysql-connector-python) on every host."),
    ),
    "upgrade_dir": CheckInfo(
        gettext_noop("Upgrade directory"),
        gettext_noop(
            "Leave it empty for the default, or give an absolute path of letters, digits and -_:@/. without '..'."
        ),
    ),
    "tenants_schema": CheckInfo(
        gettext_noop("Tenant schemas refreshed"),
        gettext_noop("Wait until every tenant has refreshed its schema, then retry."),
    ),
    "tablets_merging": CheckInfo(
        gettext_noop("No tablet merging"), gettext_noop("Wait for the running merges to finish, then retry.")
    ),
    "major_compaction": CheckInfo(
        gettext_noop("No major compaction"),
        gettext_noop("Wait for the tenants' major compaction to finish, then retry."),
    ),
    "min_observer_version": CheckInfo(
        gettext_noop("min_observer_version in sync"),
        gettext_noop("Finish the previous upgrade first: every server must report the same min_observer_version."),
    ),
    "tenant_compatible": CheckInfo(
        gettext_noop("Tenant compatible in sync"),
        gettext_noop("Finish the previous upgrade's post script so every tenant has the same 'compatible'."),
        needs=("current",),
    ),
    "backup": CheckInfo(
        gettext_noop("No running backup"),
        gettext_noop("Wait for the running backup jobs (CDB_OB_BACKUP_JOBS) to finish or cancel them."),
    ),
    "release": CheckInfo(
        gettext_noop("Release format"),
        gettext_noop("Give the rpm's full Release, build and distribution, e.g. 101000062023110109.el7."),
    ),
    "min_version": CheckInfo(
        f"Target is {MIN_SUPPORTED_VERSION} or newer",
        f"Pick a target version of {MIN_SUPPORTED_VERSION} or later.",
        needs=("params", "release"),
    ),
    "newer": CheckInfo(
        gettext_noop("Target newer than the cluster"),
        gettext_noop(
            "Pick a newer version or a higher build of the same version (a hotfix); downgrades are not possible."
        ),
        needs=("params", "release", "current"),
    ),
    "target_package": CheckInfo(
        gettext_noop("Target package uploaded"),
        gettext_noop(
            "Upload the target rpm for this edition and the cluster agent's architecture (Packages page or add_package)."
        ),
        needs=("params", "release", "current"),
    ),
    "dep_yaml": CheckInfo(
        gettext_noop("Upgrade dependency file"),
        gettext_noop("Upload a target package that contains etc/oceanbase_upgrade_dep.yml (release packages do)."),
        needs=("target_package", "current"),
    ),
    "route": CheckInfo(
        gettext_noop("Upgrade route"),
        gettext_noop(
            "Pick a target the dependency file can reach from the current version, and not a deprecated build."
        ),
        needs=("dep_yaml", "min_version", "newer"),
    ),
    "packages": CheckInfo(
        gettext_noop("Packages for every hop"),
        gettext_noop("Upload the missing rpms listed for every hop and architecture."),
        needs=("route",),
    ),
    "maintenance": CheckInfo(
        gettext_noop("No unfinished maintenance DAG"),
        gettext_noop("Finish the holder first: retry, roll back or pass its failed DAG, or wait until it ends."),
    ),
}

# obshell's order, so the first failed check is the error obshell answers with.
UPGRADE_ORDER = tuple(CATALOGUE)
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


# What only a real cluster's agent can evaluate (its tenants, merges, compaction, backups, versions and hosts'
# python): for an obshell-backed cluster the preview says "checked by the agent at start", never "passed".
AGENT_ONLY_CHECKS = frozenset(
    {
        "agents",
        "python",
        "tenants_schema",
        "tablets_merging",
        "major_compaction",
        "min_observer_version",
        "tenant_compatible",
        "backup",
    }
)
