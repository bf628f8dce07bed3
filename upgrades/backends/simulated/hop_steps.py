"""The simulated steps of one route hop: parameters, the upgrade scripts, zones stopped and started, observers
reinstalled with the hop's build. Each step is `step(ctx, layout)`, as in package_steps."""

from upgrades.backends.base import StepFailed
from upgrades.backends.simulated.parameters import (
    DURING_UPGRADE,
    MIN_OBSERVER_VERSION,
    UPGRADE_MODE,
    UPGRADE_PARAMETERS,
    parameter_rows,
    set_on_all_servers,
    set_rows,
)
from upgrades.backends.simulated.verification import simulated_facts
from upgrades.models import Server, SubTask, Tenant, Zone
from upgrades.models.dag import State
from upgrades.packages.names import OB_HOME

PARAMETERS_KEY = "parameters"
# The version values the verification reads (min_observer_version, upgrade mode, tenants' compatible) as this backup
# found them, {name: {server or tenant: value}}: the "before" of a run's change report.
VERIFIED_BEFORE_KEY = "verified_before"


def backup_parameters(ctx, layout):
    """obshell's BackupParametersTask: the three parameters of every server, kept in the sub-task's context for
    this hop's Restore parameters."""
    ctx.log("Starting backup of parameters.")
    ctx.log(f"backup [{' '.join(UPGRADE_PARAMETERS)}]")
    ctx.log(
        "SELECT SVR_IP, SVR_PORT, ZONE, SCOPE, TENANT_ID, NAME, VALUE FROM oceanbase.GV$OB_PARAMETERS WHERE NAME IN "
        f"({', '.join(repr(name) for name in UPGRADE_PARAMETERS)})"
    )
    ctx.fault_point()
    rows = parameter_rows(ctx.dag.cluster_id)
    verified = {
        name: values
        for name, values in simulated_facts(ctx.dag.cluster_id).parameters.items()
        if name not in UPGRADE_PARAMETERS
    }
    sub_task = ctx.sub_task

    def keep():
        sub_task.context = {**sub_task.context, PARAMETERS_KEY: rows, VERIFIED_BEFORE_KEY: verified}
        SubTask.objects.filter(pk=sub_task.pk).update(context=sub_task.context)

    ctx.sleep(0.5)
    ctx.effect(keep)
    ctx.log("backup parameters success")


def _run_script(ctx, layout, zone=""):
    script = layout.script_name()
    home = layout.rpm_home()
    zone_arg = f" -z'{zone}'" if zone else ""
    ctx.log(f"cd {home} && python {home}/etc/{script} -h{layout.ip} -P{layout.sql_port()} -uroot{zone_arg}")


def upgrade_checker_script(ctx, layout):
    _run_script(ctx, layout)
    ctx.sleep(0.8)
    ctx.fault_point()
    ctx.log("[upgrade_checker] check cluster status: ok")
    ctx.sleep(0.7)
    ctx.log("[upgrade_checker] all check success")


def upgrade_pre_script(ctx, layout):
    _run_script(ctx, layout)
    ctx.sleep(1.5)
    ctx.fault_point()
    cluster_id = ctx.dag.cluster_id
    for name, value in DURING_UPGRADE.items():
        ctx.log(f"[upgrade_pre] ALTER SYSTEM SET {name} = '{value}'")
    ctx.effect(lambda: set_on_all_servers(cluster_id, DURING_UPGRADE))
    ctx.log("[upgrade_pre] ALTER SYSTEM BEGIN UPGRADE")
    ctx.effect(lambda: set_on_all_servers(cluster_id, {UPGRADE_MODE: "True"}))
    ctx.log("[upgrade_pre] do upgrade pre actions for all tenants")
    ctx.sleep(1.0)
    ctx.log("[upgrade_pre] upgrade pre success")


def upgrade_health_checker_script(ctx, layout):
    _run_script(ctx, layout)
    ctx.fault_point()
    ctx.sleep(1.5)
    ctx.log("[upgrade_health_checker] check cluster health success")


def zone_health_checker_script(ctx, layout):
    _run_script(ctx, layout, zone=ctx.node.zone_name)
    ctx.fault_point()
    ctx.sleep(1.5)
    ctx.log(f"[upgrade_health_checker] check zone {ctx.node.zone_name} health success")


def upgrade_post_script(ctx, layout):
    """upgrade_post.py: wait for min_observer_version to reach the hop's version (the rootservice raises it once
    every server runs it), raise every tenant's data version (`compatible`) with the upgrade jobs, then leave upgrade
    mode. A failure before the end leaves all three behind, as a failed post script does."""
    _run_script(ctx, layout)
    ctx.sleep(1.5)
    ctx.fault_point()
    version, _build = layout.hop_target()
    cluster_id = ctx.dag.cluster_id
    ctx.log(f"[upgrade_post] wait min_observer_version to be {version}")
    ctx.effect(lambda: set_on_all_servers(cluster_id, {MIN_OBSERVER_VERSION: version}))
    ctx.log("[upgrade_post] do upgrade post actions for all tenants")
    ctx.log('[upgrade_post] ALTER SYSTEM RUN UPGRADE JOB "UPGRADE_ALL"')
    ctx.effect(lambda: Tenant.objects.filter(cluster_id=cluster_id).update(compatible=version))
    ctx.sleep(1.0)
    ctx.log(f"[upgrade_post] data version of every tenant is {version}")
    ctx.log("[upgrade_post] ALTER SYSTEM END UPGRADE")
    ctx.effect(lambda: set_on_all_servers(cluster_id, {UPGRADE_MODE: "False"}))
    ctx.log("[upgrade_post] upgrade post success")


def stop_zone(ctx, layout):
    zone = ctx.node.zone_name
    cluster_id = ctx.dag.cluster_id
    ctx.log(f"ALTER SYSTEM STOP ZONE '{zone}'")
    ctx.fault_point()

    def stop():
        Zone.objects.filter(cluster_id=cluster_id, name=zone).update(status=Zone.Status.INACTIVE)
        Server.objects.filter(cluster_id=cluster_id, zone__name=zone).update(status=Server.Status.INACTIVE)

    ctx.sleep(1.0)
    ctx.effect(stop)
    ctx.log(f"wait zone {zone} INACTIVE")
    ctx.sleep(1.5)
    ctx.log(f"zone {zone} is INACTIVE")


def minor_freeze(ctx, layout):
    zone = ctx.node.zone_name
    ctx.log(f"ALTER SYSTEM MINOR FREEZE ZONE = '{zone}'" if zone else "ALTER SYSTEM MINOR FREEZE")
    ctx.fault_point()
    ctx.sleep(1.0)
    ctx.log("wait minor freeze finished")
    ctx.log("minor freeze success")


def reinstall_observer(ctx, layout):
    server = ctx.server
    if server is None:
        raise StepFailed("Common.Unexpected", "the sub task has no observer to reinstall")
    version, build = layout.hop_target()
    home = layout.rpm_home()
    pid = layout.observer_pid()
    ctx.log(f"kill observer (pid {pid}) on {server.ip}:{server.rpc_port}")
    ctx.log(f"kill -9 {pid}")

    def kill():
        Server.objects.filter(pk=server.pk).update(process_running=False, status=Server.Status.INACTIVE)

    ctx.effect(kill)
    ctx.sleep(1.0)
    ctx.log(f"observer {server.ip}:{server.rpc_port} is stopped")
    ctx.fault_point()
    ctx.log(f"cp -r {home}/* {OB_HOME} (skipping obshell files)")
    ctx.sleep(1.5)
    ctx.log(f"start observer: cd {OB_HOME} && {OB_HOME}/bin/observer")

    def start():
        zone_active = Zone.objects.filter(pk=server.zone_id, status=Zone.Status.ACTIVE).exists()
        Server.objects.filter(pk=server.pk).update(
            process_running=True,
            build_version=f"{version}_{build}",
            status=Server.Status.ACTIVE if zone_active else Server.Status.INACTIVE,
        )

    ctx.effect(start)
    ctx.log(f"observer {server.ip}:{server.rpc_port} started with build {version}_{build}")
    ctx.log("wait for all servers active and log in sync")
    ctx.sleep(2.0)
    ctx.log("all servers are active and log in sync")


def start_zone(ctx, layout):
    zone = ctx.node.zone_name
    cluster_id = ctx.dag.cluster_id
    ctx.log(f"ALTER SYSTEM START ZONE '{zone}'")
    ctx.fault_point()

    def start():
        Zone.objects.filter(cluster_id=cluster_id, name=zone).update(status=Zone.Status.ACTIVE)
        Server.objects.filter(cluster_id=cluster_id, zone__name=zone, process_running=True).update(
            status=Server.Status.ACTIVE
        )

    ctx.sleep(1.0)
    ctx.effect(start)
    ctx.log(f"wait zone {zone} ACTIVE")
    ctx.sleep(1.5)
    ctx.log(f"zone {zone} is ACTIVE")


def _hop_backup(ctx):
    """The rows this hop's Backup parameters kept: the nearest succeeded one before this node."""
    backup = (
        SubTask.objects.filter(
            dag_id=ctx.dag.pk,
            node__name="Backup parameters",
            node__seq__lt=ctx.node.seq,
            state=State.SUCCEED,
        )
        .order_by("-node__seq")
        .first()
    )
    return (backup.context or {}).get(PARAMETERS_KEY, []) if backup is not None else []


def restore_parameters(ctx, layout):
    """obshell's RestoreParametersTask: ALTER SYSTEM SET each backed-up value on its server."""
    ctx.fault_point()
    rows = _hop_backup(ctx)
    ctx.log("start to restore parameters")
    for row in rows:
        # obshell logs the name alone; with the server, each line says something new (one row per server).
        ctx.log(f"restore param: {row['Name']} on {row['SvrIp']}:{row['SvrPort']}")
        ctx.log(f"ALTER SYSTEM SET {row['Name']} = '{row['Value']}' SERVER = '{row['SvrIp']}:{row['SvrPort']}'")
    cluster_id = ctx.dag.cluster_id
    ctx.sleep(0.5)
    ctx.effect(lambda: set_rows(cluster_id, rows))
    ctx.log("restore parameters success")


RUN = {
    "backup_parameters": backup_parameters,
    "upgrade_checker_script": upgrade_checker_script,
    "upgrade_pre_script": upgrade_pre_script,
    "upgrade_health_checker_script": upgrade_health_checker_script,
    "zone_health_checker_script": zone_health_checker_script,
    "upgrade_post_script": upgrade_post_script,
    "stop_zone": stop_zone,
    "minor_freeze": minor_freeze,
    "reinstall_observer": reinstall_observer,
    "start_zone": start_zone,
    "restore_parameters": restore_parameters,
}
