"""`manage.py label_cluster NAME key=value ... [--remove key ...]`: set and remove a cluster's labels from a
script (audited as "command <os user>"); with no change given, print its labels."""

from django.core.management.base import BaseCommand, CommandError

from upgrades.audit import Actor
from upgrades.errors import ObshellError
from upgrades.management.commands.upgrade import command_actor
from upgrades.models import Cluster
from upgrades.selectors.labels import LabelFilterError, cluster_labels, parse_label_filter
from upgrades.services.labels import label_remove, label_set


class Command(BaseCommand):
    help = "Set (key=value) and remove (--remove key) labels of a cluster; with neither, print its labels."

    def add_arguments(self, parser):
        parser.add_argument("name", help="the cluster's name")
        parser.add_argument("labels", nargs="*", metavar="key=value", help="labels to set (a key's value is replaced)")
        parser.add_argument("--remove", action="append", default=[], metavar="KEY", help="a label key to remove")

    def handle(self, *args, **opts):
        cluster = Cluster.objects.filter(name=opts["name"]).first()
        if cluster is None:
            raise CommandError(f"no cluster named {opts['name']!r}")
        try:
            pairs = [parse_label_filter(text) for text in opts["labels"]]
        except LabelFilterError as error:
            raise CommandError(str(error)) from None
        actor = Actor.system(command_actor())
        try:
            for key in opts["remove"]:
                label_remove(cluster=cluster, key=key, actor=actor)
            for key, value in pairs:
                label_set(cluster=cluster, key=key, value=value, actor=actor)
        except ObshellError as error:
            raise CommandError(error.message) from None
        labels = cluster_labels(cluster)
        shown = ", ".join(f"{key}={value}" for key, value in labels.items()) or "(no labels)"
        self.stdout.write(f"{cluster.name}: {shown}")
