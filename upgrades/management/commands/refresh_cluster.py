from django.core.management.base import BaseCommand, CommandError

from upgrades.models import Cluster
from upgrades.services.real_clusters import cluster_refresh


class Command(BaseCommand):
    help = "Re-read a real cluster's topology and health from its agent now (the workers do it on a schedule)."

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, **opts):
        cluster = Cluster.objects.filter(name=opts["name"]).first()
        if cluster is None:
            raise CommandError(f"no cluster named {opts['name']!r}")
        self.stdout.write(cluster_refresh(cluster=cluster))
