"""The simulated backend: each step changes the simulated cluster as the real step would (zones stop and
start, observers are killed, reinstalled with the hop's build and restarted) and logs what obshell's step
logs. Durations are seconds at SIMULATION_SPEED=1 (the demo 3-zone rolling upgrade takes about a minute);
the context divides them by the speed, and 0 means no waiting at all."""

from upgrades.backends.base import StepFailed
from upgrades.models import Server, Zone

OB_HOME = "/home/admin/oceanbase"
DEFAULT_UPGRADE_DIR = f"{OB_HOME}/upgrade"
SQL_PORT = 2881

# Host-level steps: on a host running several agents only the first agent of that IP does the work.
HOST_LEVEL_ACTIONS = {
    "check_python",
    "create_upgrade_dir",
    "download_packages",
    "check_packages",
    "unpack_packages",
    "backup_for_upgrade",
    "remove_upgrade_dir",
}

# What a failing attempt of each step reports (an injected `fail` fault), as obshell's steps do.
FAILURES = {
    "check_python": ("Environment.WithoutModule", "python module 'mysql.connector' is not installed"),
    "create_upgrade_dir": ("Common.DirNotEmpty", "dir '{scratch}' is not empty"),
    "download_packages": ("Environment.DiskSpaceNotEnough", "disk space is not enough in '{upgrade_dir}'"),
    "check_packages": ("OB.Package.MissingFile", "package {package} is missing file ./home/admin/oceanbase/bin/observer"),
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


class SimulatedBackend:
    name = "simulated"

    def run(self, ctx):
        step = Step(ctx)
        if ctx.node.action in HOST_LEVEL_ACTIONS and not step.first_agent_on_host():
            ctx.log("Due to multiple obshell being on this machine, only one needs to perform this sub task.")
            ctx.log(f"The actual obshell server executing the task is {step.first_agent_on_host_address()}")
            return
        handler = getattr(step, f"run_{ctx.node.action}", None)
        if handler is None:
            raise StepFailed("Common.Unexpected", f"the simulated backend has no step {ctx.node.action!r}")
        if ctx.continuing:
            ctx.log("task is continued after its executor restarted")
        handler()

    def rollback(self, ctx):
        step = Step(ctx)
        handler = getattr(step, f"rollback_{ctx.node.action}", None)
        if handler is None:
            ctx.log(f"{ctx.node.name}: nothing to roll back")
            return
        handler()

    def injected_failure(self, ctx):
        return failure_for(ctx)


def failure_for(ctx):
    step = Step(ctx)
    action = ctx.node.action
    if action.endswith("_script"):
        code, message = SCRIPT_FAILURE
    else:
        code, message = FAILURES.get(action, ("Common.Unexpected", "{name} failed"))
    return code, message.format(
        scratch=step.scratch,
        upgrade_dir=step.upgrade_dir,
        package=step.first_package_file(),
        home=OB_HOME,
        script=step.script_name(),
        name=ctx.node.name,
    )


class Step:
    """One sub-task's view of the run: where the files are, which build this hop installs."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.dag = ctx.dag
        self.node = ctx.node
        self.server = ctx.server
        self.plan = ctx.dag.plan or {}
        self.upgrade_dir = (self.dag.upgrade_dir or "").strip() or DEFAULT_UPGRADE_DIR
        self.scratch = f"{self.upgrade_dir}/rpm-{int(self.dag.created_at.timestamp() * 1000)}"

    # Helpers.
    @property
    def ip(self):
        return self.ctx.sub_task.agent_ip

    @property
    def address(self):
        return f"{self.ctx.sub_task.agent_ip}:{self.ctx.sub_task.agent_port}"

    def _first_agent_on_host(self):
        """(server id, agent port) of the first agent with this IP in all_agent (zone) order. Agents do not
        change during a run, so the answer is kept with the DAG for the run's later host-level steps."""
        hosts = self.dag.__dict__.setdefault("_first_agent_by_ip", {})
        if self.ip not in hosts:
            hosts[self.ip] = (
                Server.objects.filter(cluster_id=self.dag.cluster_id, ip=self.ip)
                .order_by("zone__position", "id")
                .values_list("id", "agent_port")
                .first()
            )
        return hosts[self.ip]

    def first_agent_on_host(self):
        first = self._first_agent_on_host()
        return first is None or first[0] == self.ctx.sub_task.server_id

    def first_agent_on_host_address(self):
        first = self._first_agent_on_host()
        return f"{self.ip}:{first[1]}" if first else self.address

    def hops(self):
        route = self.dag.route or []
        return route if route else [{"version": self.dag.version, "release": self.dag.release}]

    def hop_target(self, hop=None):
        """(version, build) the hop installs; the last hop installs the requested target build."""
        hops = self.hops()
        index = self.node.hop if hop is None and self.node.hop is not None else (hop or 0)
        index = min(max(index, 0), len(hops) - 1)
        if index == len(hops) - 1:
            return self.dag.version, self.dag.release.split(".")[0]
        entry = hops[index]
        version = entry.get("version") or self.dag.version
        release = entry.get("release") or ""
        if release and release != "null":
            return version, release.split(".")[0]
        for package in self.plan.get("packages", []):
            if package.get("version") == version and package.get("release_distribution"):
                return version, package["release_distribution"].split(".")[0]
        build_version = entry.get("build_version") or ""
        return version, build_version.partition("-")[2]

    def packages(self):
        return self.plan.get("packages", [])

    def package_file(self, package):
        name = package.get("rpm_name") or f"{package.get('name')}.rpm"
        return f"{self.scratch}/{package.get('arch', 'x86_64')}/{package.get('version')}/{name}"

    def first_package_file(self):
        packages = self.packages()
        return self.package_file(packages[0]) if packages else f"{self.scratch}/{self.dag.version}"

    def rpm_home(self, hop=None):
        version, _build = self.hop_target(hop)
        arch = self.server.arch if self.server else "x86_64"
        return f"{self.scratch}/{arch}/{version}{OB_HOME}"

    def script_name(self):
        return {
            "upgrade_checker_script": "upgrade_checker.py",
            "upgrade_pre_script": "upgrade_pre.py",
            "upgrade_health_checker_script": "upgrade_health_checker.py",
            "zone_health_checker_script": "upgrade_health_checker.py",
            "upgrade_post_script": "upgrade_post.py",
        }.get(self.node.action, "")

    def sql_port(self):
        return self.server.sql_port if self.server else SQL_PORT

    def observer_pid(self):
        return 10000 + (self.ctx.sub_task.server_id or 0) * 7 % 50000

    def zone_servers(self):
        return Server.objects.filter(cluster_id=self.dag.cluster_id, zone__name=self.node.zone_name)

    # Package stages.
    def run_check_python(self):
        log, sleep = self.ctx.log, self.ctx.sleep
        log("Checking if python is installed.")
        sleep(0.3)
        log("Python major version 3")
        log("Checking if mysql.connector is installed.")
        self.ctx.fault_point()
        sleep(0.4)
        log("check env success")

    def run_create_upgrade_dir(self):
        self.ctx.log(f"mkdir -p {self.upgrade_dir}")
        self.ctx.sleep(0.2)
        self.ctx.fault_point()
        self.ctx.log(f"check dir {self.scratch} is empty")
        self.ctx.log(f"mkdir -p {self.scratch}")
        self.ctx.sleep(0.2)

    def rollback_create_upgrade_dir(self):
        self.ctx.log(f"rm -rf {self.scratch}")
        self.ctx.sleep(0.2)

    def run_download_packages(self):
        packages = self.packages()
        self.ctx.log(f"check disk space of {self.upgrade_dir}: enough for {len(packages)} packages")
        for index, package in enumerate(packages):
            self.ctx.log(f"download {package.get('rpm_name')} from OB to {self.package_file(package)}")
            if index == 0:
                self.ctx.fault_point()
            self.ctx.sleep(2.0 / max(len(packages), 1))
            self.ctx.log(f"downloaded {package.get('rpm_name')}")
        if not packages:
            self.ctx.fault_point()
            self.ctx.sleep(0.5)

    def rollback_download_packages(self):
        for package in self.packages():
            self.ctx.log(f"rm -f {self.package_file(package)}")
        self.ctx.sleep(0.2)

    def run_check_packages(self):
        self.ctx.fault_point()
        for package in self.packages():
            self.ctx.log(f"check package {package.get('rpm_name')}")
            self.ctx.sleep(1.4 / max(len(self.packages()), 1))
            self.ctx.log(f"sha256 {package.get('sha256', '')} ok")
        if not self.packages():
            self.ctx.sleep(0.5)

    def run_unpack_packages(self):
        for package in self.packages():
            path = self.package_file(package)
            self.ctx.log(f"unpack {path} to {path.rsplit('/', 1)[0]}")
            self.ctx.sleep(1.5 / max(len(self.packages()), 1))
        self.ctx.fault_point()
        for hop in range(len(self.hops())):
            version, build = self.hop_target(hop)
            home = self.rpm_home(hop)
            self.ctx.log(f"export LD_LIBRARY_PATH={home}/lib && {home}/bin/observer -V")
            self.ctx.log(f"observer (OceanBase {version}) REVISION: {build}")
        self.ctx.sleep(0.3)

    def rollback_unpack_packages(self):
        self.ctx.log(f"rm -rf {self.scratch}/*/*{OB_HOME}")
        self.ctx.sleep(0.2)

    def run_backup_for_upgrade(self):
        self.ctx.log(f"cp -r {OB_HOME}/bin {self.scratch}/backup")
        self.ctx.fault_point()
        self.ctx.sleep(1.0)
        self.ctx.log("backup for upgrade success")

    def rollback_backup_for_upgrade(self):
        self.ctx.log(f"rm -rf {self.scratch}/backup")
        self.ctx.sleep(0.2)

    def run_install_obshell(self):
        self.ctx.log(f"cp {self.rpm_home()}/bin/obshell {OB_HOME}/bin/obshell")
        self.ctx.fault_point()
        self.ctx.sleep(1.0)
        self.ctx.log("install new obshell success")

    def rollback_install_obshell(self):
        self.ctx.log(f"cp {self.scratch}/backup/bin/obshell {OB_HOME}/bin/obshell")
        self.ctx.sleep(0.3)

    def run_restart_obshell(self):
        version, build = self.hop_target(len(self.hops()) - 1)
        server = self.server
        if not self.ctx.continuing:
            self.ctx.log(
                f"{OB_HOME}/bin/obshell admin restart --ip {self.ip} --port {self.ctx.sub_task.agent_port} "
                f"--pid {self.observer_pid() + 1} --takeover 0"
            )
            self.ctx.fault_point()
            self.ctx.sleep(1.2)
        self.ctx.log(f"check obshell version: {version}-{build}")
        if server is not None:
            self.ctx.effect(lambda: Server.objects.filter(pk=server.pk).update(agent_version=f"{version}-{build}"))
        self.ctx.sleep(0.8)
        self.ctx.log("update agent version and public key success")

    def run_upgrade_post_table(self):
        self.ctx.log("upgrade post table maintain")
        self.ctx.fault_point()
        self.ctx.sleep(1.0)
        self.ctx.log("upgrade post table maintain success")

    # Hop stages.
    def run_backup_parameters(self):
        self.ctx.log(
            "SELECT name, value, scope, svr_ip, svr_port, tenant_id FROM GV$OB_PARAMETERS WHERE name IN "
            "('server_permanent_offline_time', 'enable_rebalance', 'enable_rereplication')"
        )
        self.ctx.fault_point()
        self.ctx.sleep(0.5)
        self.ctx.log("backup parameters success")

    def _run_script(self, zone=""):
        script = self.script_name()
        home = self.rpm_home()
        zone_arg = f" -z'{zone}'" if zone else ""
        self.ctx.log(f"cd {home} && python {home}/etc/{script} -h{self.ip} -P{self.sql_port()} -uroot{zone_arg}")
        return script

    def run_upgrade_checker_script(self):
        self._run_script()
        self.ctx.sleep(0.8)
        self.ctx.fault_point()
        self.ctx.log("[upgrade_checker] check cluster status: ok")
        self.ctx.sleep(0.7)
        self.ctx.log("[upgrade_checker] all check success")

    def run_upgrade_pre_script(self):
        self._run_script()
        self.ctx.sleep(1.5)
        self.ctx.fault_point()
        self.ctx.log("[upgrade_pre] do upgrade pre actions for all tenants")
        self.ctx.sleep(1.0)
        self.ctx.log("[upgrade_pre] upgrade pre success")

    def run_upgrade_health_checker_script(self):
        self._run_script()
        self.ctx.fault_point()
        self.ctx.sleep(1.5)
        self.ctx.log("[upgrade_health_checker] check cluster health success")

    def run_zone_health_checker_script(self):
        self._run_script(zone=self.node.zone_name)
        self.ctx.fault_point()
        self.ctx.sleep(1.5)
        self.ctx.log(f"[upgrade_health_checker] check zone {self.node.zone_name} health success")

    def run_upgrade_post_script(self):
        self._run_script()
        self.ctx.sleep(1.5)
        self.ctx.fault_point()
        self.ctx.log("[upgrade_post] do upgrade post actions for all tenants")
        self.ctx.sleep(1.0)
        self.ctx.log("[upgrade_post] upgrade post success")

    def run_stop_zone(self):
        zone = self.node.zone_name
        cluster_id = self.dag.cluster_id
        self.ctx.log(f"ALTER SYSTEM STOP ZONE '{zone}'")
        self.ctx.fault_point()

        def stop():
            Zone.objects.filter(cluster_id=cluster_id, name=zone).update(status=Zone.Status.INACTIVE)
            Server.objects.filter(cluster_id=cluster_id, zone__name=zone).update(status=Server.Status.INACTIVE)

        self.ctx.sleep(1.0)
        self.ctx.effect(stop)
        self.ctx.log(f"wait zone {zone} INACTIVE")
        self.ctx.sleep(1.5)
        self.ctx.log(f"zone {zone} is INACTIVE")

    def run_minor_freeze(self):
        zone = self.node.zone_name
        self.ctx.log(f"ALTER SYSTEM MINOR FREEZE ZONE = '{zone}'" if zone else "ALTER SYSTEM MINOR FREEZE")
        self.ctx.fault_point()
        self.ctx.sleep(1.0)
        self.ctx.log("wait minor freeze finished")
        self.ctx.log("minor freeze success")

    def run_reinstall_observer(self):
        server = self.server
        if server is None:
            raise StepFailed("Common.Unexpected", "the sub task has no observer to reinstall")
        version, build = self.hop_target()
        home = self.rpm_home()
        pid = self.observer_pid()
        self.ctx.log(f"kill observer (pid {pid}) on {server.ip}:{server.rpc_port}")
        self.ctx.log(f"kill -9 {pid}")

        def kill():
            Server.objects.filter(pk=server.pk).update(process_running=False, status=Server.Status.INACTIVE)

        self.ctx.effect(kill)
        self.ctx.sleep(1.0)
        self.ctx.log(f"observer {server.ip}:{server.rpc_port} is stopped")
        self.ctx.fault_point()
        self.ctx.log(f"cp -r {home}/* {OB_HOME} (skipping obshell files)")
        self.ctx.sleep(1.5)
        self.ctx.log(f"start observer: cd {OB_HOME} && {OB_HOME}/bin/observer")

        def start():
            zone_active = Zone.objects.filter(pk=server.zone_id, status=Zone.Status.ACTIVE).exists()
            Server.objects.filter(pk=server.pk).update(
                process_running=True,
                build_version=f"{version}_{build}",
                status=Server.Status.ACTIVE if zone_active else Server.Status.INACTIVE,
            )

        self.ctx.effect(start)
        self.ctx.log(f"observer {server.ip}:{server.rpc_port} started with build {version}_{build}")
        self.ctx.log("wait for all servers active and log in sync")
        self.ctx.sleep(2.0)
        self.ctx.log("all servers are active and log in sync")

    def run_start_zone(self):
        zone = self.node.zone_name
        cluster_id = self.dag.cluster_id
        self.ctx.log(f"ALTER SYSTEM START ZONE '{zone}'")
        self.ctx.fault_point()

        def start():
            Zone.objects.filter(cluster_id=cluster_id, name=zone).update(status=Zone.Status.ACTIVE)
            Server.objects.filter(cluster_id=cluster_id, zone__name=zone, process_running=True).update(
                status=Server.Status.ACTIVE
            )

        self.ctx.sleep(1.0)
        self.ctx.effect(start)
        self.ctx.log(f"wait zone {zone} ACTIVE")
        self.ctx.sleep(1.5)
        self.ctx.log(f"zone {zone} is ACTIVE")

    def run_restore_parameters(self):
        self.ctx.fault_point()
        for name, value in (
            ("server_permanent_offline_time", "3600s"),
            ("enable_rebalance", "True"),
            ("enable_rereplication", "True"),
        ):
            self.ctx.log(f"ALTER SYSTEM SET {name} = '{value}'")
        self.ctx.sleep(0.5)
        self.ctx.log("restore parameters success")

    def run_remove_upgrade_dir(self):
        self.ctx.log(f"rm -rf {self.scratch}")
        self.ctx.fault_point()
        self.ctx.sleep(0.5)
        self.ctx.log("remove upgrade dir success")

