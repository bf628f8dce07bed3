from django.core.management.base import CommandError

from upgrades.errors import ObshellError
from upgrades.management.base import VersionOptionCommand
from upgrades.models.cluster import Edition
from upgrades.services.clusters import cluster_create_simulated


class Command(VersionOptionCommand):
    help = "Create a simulated cluster: zones zone1..zoneZ with N servers each, all on <version>_<build>."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--edition", choices=Edition.values, required=True)
        parser.add_argument("--zones", type=int, required=True)
        parser.add_argument("--servers-per-zone", type=int, required=True)
        parser.add_argument("--version", required=True, help="e.g. 4.2.1.0")
        parser.add_argument("--build", required=True, help="e.g. 100000102023092807")
        parser.add_argument("--arch", default="x86_64")
        parser.add_argument("--distribution", default="el7")
        parser.add_argument("--shared-storage", action="store_true")

    def handle(self, *args, **opts):
        try:
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
        except ObshellError as exc:
            raise CommandError(exc.message) from None
        servers = cluster.servers.count()
        self.stdout.write(
            f"{cluster.name}: {cluster.edition}, {opts['zones']} zones, {servers} servers on {opts['version']}_{opts['build']}"
        )
