"""What a failing attempt of each simulated step reports (an injected `fail` fault), as obshell's steps do."""

from upgrades.backends.simulated.layout import RunLayout
from upgrades.packages.names import OB_HOME

# action -> (errCode, message); the message is formatted with the sub-task's paths (see failure_for).
FAILURES = {
    "check_python": ("Environment.WithoutModule", "python module 'mysql.connector' is not installed"),
    "create_upgrade_dir": ("Common.DirNotEmpty", "dir '{scratch}' is not empty"),
    "download_packages": ("Environment.DiskSpaceNotEnough", "disk space is not enough in '{upgrade_dir}'"),
    "check_packages": (
        "OB.Package.MissingFile",
        "package {package} is missing file .{home}/bin/observer",
    ),
    "unpack_packages": ("Common.Unexpected", "exec 'rpm2cpio {package} | cpio -idvm' failed: exit status 2"),
    "backup_for_upgrade": ("Common.Unexpected", "copy {home}/bin to {scratch}/backup failed: no space left on device"),
    "install_obshell": ("Common.Unexpected", "replace {home}/bin/obshell failed: text file busy"),
    "restart_obshell": ("Agent.Unavailable", "obshell did not come back within 300s after restart"),
    "upgrade_post_table": ("MySQL.Error", "Error 4012 (HY000): Timeout, query has reached the maximum query timeout"),
    "backup_parameters": ("MySQL.Error", "Error 4012 (HY000): Timeout, query has reached the maximum query timeout"),
    "stop_zone": ("OB.Cluster.AsyncOperationTimeout", "stop zone timeout"),
    "start_zone": ("OB.Cluster.AsyncOperationTimeout", "start zone timeout"),
    "minor_freeze": ("MySQL.Error", "Error 4023 (HY000): minor freeze is already in progress"),
    "reinstall_observer": ("OB.Cluster.AsyncOperationTimeout", "wait for all servers active timeout"),
    "restore_parameters": ("MySQL.Error", "Error 4012 (HY000): Timeout, query has reached the maximum query timeout"),
    "remove_upgrade_dir": ("Common.Unexpected", "remove {scratch} failed: device or resource busy"),
}
SCRIPT_FAILURE = ("OB.Upgrade.ExecScriptFailed", "execute script {script} failed: exit status 1")
OTHER_FAILURE = ("Common.Unexpected", "{name} failed")


ROLLBACK_FAILURE = ("Common.Unexpected", "rollback of {name} failed: remove {scratch} failed: device or resource busy")


def failure_for(ctx):
    """(errCode, message) of a failed attempt of ctx's sub-task (or of its rollback)."""
    layout = RunLayout(ctx)
    action = ctx.node.action
    if ctx.phase == "rollback":
        code, message = ROLLBACK_FAILURE
    elif action.endswith("_script"):
        code, message = SCRIPT_FAILURE
    else:
        code, message = FAILURES.get(action, OTHER_FAILURE)
    return code, message.format(
        scratch=layout.scratch,
        upgrade_dir=layout.upgrade_dir,
        package=layout.first_package_file(),
        home=OB_HOME,
        script=layout.script_name(),
        name=ctx.node.name,
    )
