from django.core.management.base import BaseCommand, CommandError

from upgrades.audit import Actor
from upgrades.errors import ObshellError
from upgrades.management.commands.add_cluster import secret_from_env
from upgrades.models import Cluster
from upgrades.services.real_clusters import cluster_set_password


class Command(BaseCommand):
    help = "Store a real cluster's new root@sys password (read from the environment variable named), proven first."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--password-env", metavar="VAR", required=True)
        parser.add_argument("--agent-password-env", metavar="VAR")

    def handle(self, *args, **opts):
        cluster = Cluster.objects.filter(name=opts["name"]).first()
        if cluster is None:
            raise CommandError(f"no cluster named {opts['name']!r}")
        agent_password = None
        if opts["agent_password_env"]:
            agent_password = secret_from_env(opts["agent_password_env"], "--agent-password-env")
        try:
            cluster_set_password(
                cluster=cluster,
                password=secret_from_env(opts["password_env"], "--password-env"),
                agent_password=agent_password,
                actor=Actor.system("command set_cluster_password"),
            )
        except ObshellError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"{cluster.name}: password stored")
