"""Where a simulated sub-task's files are and which build its hop installs: the paths and names its steps log."""

from upgrades.models import Server
from upgrades.packages.names import OB_HOME

DEFAULT_UPGRADE_DIR = f"{OB_HOME}/upgrade"
# The observer's SQL port when a sub-task has no server of its own.
DEFAULT_SQL_PORT = Server._meta.get_field("sql_port").default

SCRIPTS = {
    "upgrade_checker_script": "upgrade_checker.py",
    "upgrade_pre_script": "upgrade_pre.py",
    "upgrade_health_checker_script": "upgrade_health_checker.py",
    "zone_health_checker_script": "upgrade_health_checker.py",
    "upgrade_post_script": "upgrade_post.py",
}


class RunLayout:
    """One sub-task's view of the run: where the files are, which build this hop installs."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.dag = ctx.dag
        self.node = ctx.node
        self.server = ctx.server
        self.plan = ctx.dag.plan or {}
        self.upgrade_dir = (self.dag.upgrade_dir or "").strip() or DEFAULT_UPGRADE_DIR
        self.scratch = f"{self.upgrade_dir}/rpm-{int(self.dag.created_at.timestamp() * 1000)}"

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

    def is_first_agent_on_host(self):
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
        packages = self.plan.get("packages", [])
        if self.dag.kind in ("agent_upgrade", "agent_upgrade_check") and self.server is not None:
            # obshell's own upgrade fetches the obshell rpm of the agent's architecture only (global.Architecture).
            return [p for p in packages if p.get("arch") == self.server.arch]
        return packages

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
        return SCRIPTS.get(self.node.action, "")

    def sql_port(self):
        return self.server.sql_port if self.server else DEFAULT_SQL_PORT

    def observer_pid(self):
        return 10000 + (self.ctx.sub_task.server_id or 0) * 7 % 50000
