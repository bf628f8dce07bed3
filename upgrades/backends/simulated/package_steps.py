"""The simulated steps around the hops: the upgrade directory, the packages, obshell itself, and the clean-up.

Each step is `step(ctx, layout)`: ctx is the engine's StepContext, layout the sub-task's RunLayout."""

from upgrades.models import Server
from upgrades.packages.names import OB_HOME


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


def download_packages(ctx, layout):
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
    version, build = layout.hop_target(len(layout.hops()) - 1)
    server = ctx.server
    if not ctx.continuing:
        ctx.log(
            f"{OB_HOME}/bin/obshell admin restart --ip {layout.ip} --port {ctx.sub_task.agent_port} "
            f"--pid {layout.observer_pid() + 1} --takeover 0"
        )
        ctx.fault_point()
        ctx.sleep(1.2)
    ctx.log(f"check obshell version: {version}-{build}")
    if server is not None:
        ctx.effect(lambda: Server.objects.filter(pk=server.pk).update(agent_version=f"{version}-{build}"))
    ctx.sleep(0.8)
    ctx.log("update agent version and public key success")


def upgrade_post_table(ctx, layout):
    ctx.log("upgrade post table maintain")
    ctx.fault_point()
    ctx.sleep(1.0)
    ctx.log("upgrade post table maintain success")


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
