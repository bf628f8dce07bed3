"""The simulated steps around the hops: the upgrade directory, the packages, obshell itself, and the clean-up.

Each step is `step(ctx, layout)`: ctx is the engine's StepContext, layout the sub-task's RunLayout."""

from django.utils import timezone

from upgrades.backends.base import StepFailed
from upgrades.models import Dag, Server
from upgrades.packages.names import OB_HOME, OBSHELL

AGENT_KINDS = (Dag.Kind.AGENT_UPGRADE, Dag.Kind.AGENT_UPGRADE_CHECK)
# A real agent's restart: the old process exits, the new one waits for it, sleeps 5 s and only then listens
# (ob/agent/cmd/server: WaitServerProcKilled); clients see about 6 s of refused connections.
AGENT_RESTART_SECONDS = 6.0


def _for_agent(layout):
    return layout.dag.kind in AGENT_KINDS


def check_python(ctx, layout):
    log, sleep = ctx.log, ctx.sleep
    log("Checking if python is installed.")
    sleep(0.3)
    log("Python major version 3")
    log("Checking if mysql.connector is installed.")
    ctx.fault_point()
    sleep(0.4)
    log("check env success")


def create_upgrade_dir(ctx, layout):
    ctx.log(f"mkdir -p {layout.upgrade_dir}")
    ctx.sleep(0.2)
    ctx.fault_point()
    ctx.log(f"check dir {layout.scratch} is empty")
    ctx.log(f"mkdir -p {layout.scratch}")
    ctx.sleep(0.2)


def rollback_create_upgrade_dir(ctx, layout):
    ctx.log(f"rm -rf {layout.scratch}")
    ctx.sleep(0.2)


def _agent_download(ctx, layout):
    """obshell's GetAllRequiredPkgsTask with onlyForAgent (ob/agent/executor/ob/upgrade_pkg_download.go): the
    obshell rpm of the one-node route, for this agent's own architecture. Its pre-check never refused a
    missing rpm, so this is where a missing one fails, with gorm's `record not found`."""
    version, build = layout.hop_target()
    ctx.log(f"The required upgrade package is [{OBSHELL}]")
    ctx.log(f"The 1th version in the upgrade route is: {version}-{build}")
    ctx.log(f"The directory for this upgrade check task is {layout.scratch}")
    ctx.log("Confirm that all the required packages have been uploaded.")
    ctx.fault_point()
    packages = layout.packages()
    if not packages:
        raise StepFailed("Common.Unexpected", "record not found")
    ctx.log("Check the remaining disk space.")
    ctx.log(f"The directory being checked is {layout.upgrade_dir}")
    ctx.log(f"Download all packages to {layout.scratch}")
    for package in packages:
        ctx.sleep(1.0)
        ctx.log(f"Downloaded pkg '{package.get('name')}' to '{layout.package_file(package)}'")


def download_packages(ctx, layout):
    if _for_agent(layout):
        _agent_download(ctx, layout)
        return
    packages = layout.packages()
    ctx.log(f"check disk space of {layout.upgrade_dir}: enough for {len(packages)} packages")
    for index, package in enumerate(packages):
        ctx.log(f"download {package.get('rpm_name')} from OB to {layout.package_file(package)}")
        if index == 0:
            ctx.fault_point()
        ctx.sleep(2.0 / max(len(packages), 1))
        ctx.log(f"downloaded {package.get('rpm_name')}")
    if not packages:
        ctx.fault_point()
        ctx.sleep(0.5)


def rollback_download_packages(ctx, layout):
    for package in layout.packages():
        ctx.log(f"rm -f {layout.package_file(package)}")
    ctx.sleep(0.2)


def check_packages(ctx, layout):
    ctx.fault_point()
    for package in layout.packages():
        ctx.log(f"check package {package.get('rpm_name')}")
        ctx.sleep(1.4 / max(len(layout.packages()), 1))
        ctx.log(f"sha256 {package.get('sha256', '')} ok")
    if not layout.packages():
        ctx.sleep(0.5)


def unpack_packages(ctx, layout):
    if _for_agent(layout):
        # onlyForAgent: unpacked, but no observer binary to try (upgrade_pkg_install.go).
        ctx.log("Unpack and check all packages")
        for package in layout.packages():
            path = layout.package_file(package)
            ctx.log(f"Unpack '{path}'")
            ctx.sleep(0.5)
            ctx.log(f"Successfully installed {path}")
        ctx.fault_point()
        ctx.log("install all required pkgs success")
        return
    for package in layout.packages():
        path = layout.package_file(package)
        ctx.log(f"unpack {path} to {path.rsplit('/', 1)[0]}")
        ctx.sleep(1.5 / max(len(layout.packages()), 1))
    ctx.fault_point()
    for hop in range(len(layout.hops())):
        version, build = layout.hop_target(hop)
        home = layout.rpm_home(hop)
        ctx.log(f"export LD_LIBRARY_PATH={home}/lib && {home}/bin/observer -V")
        ctx.log(f"observer (OceanBase {version}) REVISION: {build}")
    ctx.sleep(0.3)


def rollback_unpack_packages(ctx, layout):
    ctx.log(f"rm -rf {layout.scratch}/*/*{OB_HOME}")
    ctx.sleep(0.2)


def backup_for_upgrade(ctx, layout):
    ctx.log(f"cp -r {OB_HOME}/bin {layout.scratch}/backup")
    ctx.fault_point()
    ctx.sleep(1.0)
    ctx.log("backup for upgrade success")


def rollback_backup_for_upgrade(ctx, layout):
    ctx.log(f"rm -rf {layout.scratch}/backup")
    ctx.sleep(0.2)


def install_obshell(ctx, layout):
    ctx.log(f"cp {layout.rpm_home()}/bin/obshell {OB_HOME}/bin/obshell")
    ctx.fault_point()
    ctx.sleep(1.0)
    ctx.log("install new obshell success")


def rollback_install_obshell(ctx, layout):
    ctx.log(f"cp {layout.scratch}/backup/bin/obshell {OB_HOME}/bin/obshell")
    ctx.sleep(0.3)


def restart_obshell(ctx, layout):
    """obshell's RestartAgentTask (ob/agent/executor/ob/upgrade_agent_restart.go): run `obshell admin restart`,
    and the new process continues the still-RUNNING sub-task, checks its own version, reconnects, records the
    version in OB and re-publishes its public key.

    The simulated agent restarts in place, inside the same attempt (the sub-task stays RUNNING throughout, as
    obshell's does). Nothing of this server goes down meanwhile: its API keeps answering, so a client polling
    the DAG (the SDK's wait_dag_succeed) simply sees the stage running, where a client of a real agent sees
    about 6 s of refused connections and retries them. The restarted agent's version and start time change
    (Server.agent_version, agent_started_at: the topology, ob/info and the cluster's /info show them)."""
    version, build = layout.hop_target(len(layout.hops()) - 1)
    target = f"{version}-{build}"
    server = ctx.server
    previous = server.agent_version if server is not None else ""
    if not ctx.continuing:
        ctx.log("restart agent")
        ctx.log(
            f"cmd is {OB_HOME}/bin/obshell admin restart --ip {layout.ip} --port {ctx.sub_task.agent_port} "
            f"--pid {layout.observer_pid() + 1} --takeover 0"
        )
        ctx.fault_point()
        ctx.sleep(AGENT_RESTART_SECONDS)
    ctx.log("restart agent task continue")
    ctx.log(f"current obshell version is {target}")
    if _for_agent(layout):
        # No target agent version is set for obshell's own upgrade: it compares with the backed-up binary.
        ctx.log("upgrade from version which not set target version, check previous version.")
        ctx.log(f"previous version is {previous}")
    else:
        ctx.log(f"target obshell version is {target}")
    ctx.log("Connecting to the database.")
    ctx.sleep(0.4)
    ctx.log("Updating version.")
    if server is not None:
        ctx.effect(
            lambda: Server.objects.filter(pk=server.pk).update(agent_version=target, agent_started_at=timezone.now())
        )
    ctx.log("Syncing agent public key to oceanbase.")
    ctx.sleep(0.4)


def upgrade_post_table(ctx, layout):
    ctx.log("Start to upgrade post table maintain")
    ctx.fault_point()
    ctx.sleep(1.0)


def remove_upgrade_dir(ctx, layout):
    ctx.log(f"rm -rf {layout.scratch}")
    ctx.fault_point()
    ctx.sleep(0.5)
    ctx.log("remove upgrade dir success")


RUN = {
    "check_python": check_python,
    "create_upgrade_dir": create_upgrade_dir,
    "download_packages": download_packages,
    "check_packages": check_packages,
    "unpack_packages": unpack_packages,
    "backup_for_upgrade": backup_for_upgrade,
    "install_obshell": install_obshell,
    "restart_obshell": restart_obshell,
    "upgrade_post_table": upgrade_post_table,
    "remove_upgrade_dir": remove_upgrade_dir,
}

ROLLBACK = {
    "create_upgrade_dir": rollback_create_upgrade_dir,
    "download_packages": rollback_download_packages,
    "unpack_packages": rollback_unpack_packages,
    "backup_for_upgrade": rollback_backup_for_upgrade,
    "install_obshell": rollback_install_obshell,
}
