import os

from django.core.management.base import CommandError

from upgrades.errors import ObshellError
from upgrades.management.base import VersionOptionCommand
from upgrades.models.cluster import Backend, Edition
from upgrades.services.clusters import cluster_create_simulated
from upgrades.services.real_clusters import cluster_register_obshell

SIMULATED_FLAGS = ("zones", "servers_per_zone", "version", "build")


def secret_from_env(variable, what):
    """A secret named by the environment variable that holds it: never on the command line (ps shows argv)."""
    if variable is None:
        return ""
    if variable not in os.environ:
        raise CommandError(f"{what}: environment variable {variable} is not set")
    return os.environ[variable]


class Command(VersionOptionCommand):
    help = (
        "Register a cluster. Simulated (the default): zones zone1..zoneZ with N servers each on <version>_<build>. "
        "Real (--backend obshell): found through its obshell agents, with the root@sys password read from the "
        "environment variable --password-env names."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--backend", choices=Backend.values, default=Backend.SIMULATED)
        parser.add_argument(
            "--edition",
            choices=Edition.values,
            help="required for simulated clusters and for agents older than 4.3.0 (which do not report it)",
        )
        parser.add_argument("--zones", type=int)
        parser.add_argument("--servers-per-zone", type=int)
        parser.add_argument("--version", help="e.g. 4.2.1.0")
        parser.add_argument("--build", help="e.g. 100000102023092807")
        parser.add_argument("--arch", default="x86_64")
        parser.add_argument("--distribution", default="el7")
        parser.add_argument("--shared-storage", action="store_true")
        parser.add_argument(
            "--agent",
            action="append",
            default=[],
            metavar="HOST:PORT",
            help="an obshell agent; repeat it: the next is dialled when the first does not answer",
        )
        parser.add_argument("--password-env", metavar="VAR", help="environment variable holding root@sys's password")
        parser.add_argument(
            "--agent-password-env",
            metavar="VAR",
            help="environment variable holding the agent password, where one is set",
        )

    def handle(self, *args, **opts):
        try:
            if opts["backend"] == Backend.OBSHELL:
                self._real(opts)
            else:
                self._simulated(opts)
        except ObshellError as exc:
            raise CommandError(exc.message) from None

    def _simulated(self, opts):
        missing = [f"--{flag.replace('_', '-')}" for flag in ("edition", *SIMULATED_FLAGS) if opts[flag] is None]
        if missing:
            raise CommandError(f"a simulated cluster needs {', '.join(missing)}")
        cluster = cluster_create_simulated(
            name=opts["name"],
            edition=opts["edition"],
            zones=opts["zones"],
            servers_per_zone=opts["servers_per_zone"],
            version=opts["version"],
            build=opts["build"],
            arch=opts["arch"],
            distribution=opts["distribution"],
            shared_storage=opts["shared_storage"],
        )
        self.stdout.write(
            f"{cluster.name}: {cluster.edition}, {opts['zones']} zones, {cluster.servers.count()} servers on "
            f"{opts['version']}_{opts['build']}"
        )

    def _real(self, opts):
        given = [f"--{flag.replace('_', '-')}" for flag in SIMULATED_FLAGS if opts[flag] is not None]
        if given:
            raise CommandError(f"{', '.join(given)} describe simulated clusters; a real one is read from its agent")
        if not opts["agent"]:
            raise CommandError("a real cluster needs --agent HOST:PORT")
        if not opts["password_env"]:
            raise CommandError("a real cluster needs --password-env VAR (the variable holding root@sys's password)")
        cluster = cluster_register_obshell(
            name=opts["name"],
            addresses=opts["agent"],
            password=secret_from_env(opts["password_env"], "--password-env"),
            agent_password=secret_from_env(opts["agent_password_env"], "--agent-password-env"),
            edition=opts["edition"],
        )
        zones = list(cluster.zones.values_list("name", flat=True))
        builds = sorted(set(cluster.servers.values_list("build_version", flat=True)))
        self.stdout.write(
            f"{cluster.name}: {cluster.edition} via {cluster.agent_host}:{cluster.agent_port}, {len(zones)} zones "
            f"({', '.join(zones)}), {cluster.servers.count()} servers on {', '.join(builds)}"
        )
