"""`manage.py maintenance_window add|list|remove`: maintenance windows from a script (audited as
"command <os user>").

    maintenance_window add --cluster NAME "Tue and Thu 01:00-05:00 Asia/Shanghai" [--name NAME]
    maintenance_window add --label env=prod "daily 22:00-02:00 UTC"
    maintenance_window list [--cluster NAME]     (a cluster's list includes the windows of its labels)
    maintenance_window remove ID
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from upgrades.audit import Actor
from upgrades.errors import ObshellError
from upgrades.management.commands.upgrade import command_actor
from upgrades.models import Cluster, MaintenanceWindow
from upgrades.operations.windows import format_window, window_decision, windows_for
from upgrades.services.windows import window_add, window_remove


class Command(BaseCommand):
    help = "Add, list and remove maintenance windows of clusters and labels."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="add a window to a cluster or a label")
        target = add.add_mutually_exclusive_group(required=True)
        target.add_argument("--cluster", help="the cluster's name")
        target.add_argument("--label", help="key=value: every cluster with this label")
        add.add_argument("window", help='e.g. "Tue and Thu 01:00-05:00 Asia/Shanghai" or "daily 22:00-02:00 UTC"')
        add.add_argument("--name", default="", help="an optional name")
        listing = actions.add_parser("list", help="list windows (of one cluster, its labels' included)")
        listing.add_argument("--cluster", help="the cluster's name")
        remove = actions.add_parser("remove", help="remove a window by its id (see list)")
        remove.add_argument("id", type=int)

    def handle(self, *args, **opts):
        actor = Actor.system(command_actor())
        try:
            getattr(self, f"_{opts['action']}")(opts, actor)
        except ObshellError as error:
            raise CommandError(error.message) from None

    def _cluster(self, name):
        cluster = Cluster.objects.filter(name=name).first()
        if cluster is None:
            raise CommandError(f"no cluster named {name!r}")
        return cluster

    def _add(self, opts, actor):
        cluster = self._cluster(opts["cluster"]) if opts["cluster"] else None
        window = window_add(
            cluster=cluster, label=opts["label"] or "", window=opts["window"], name=opts["name"], actor=actor
        )
        self.stdout.write(f"Added window {window.pk}: {self._describe(window)}")

    def _list(self, opts, actor):
        if opts["cluster"]:
            cluster = self._cluster(opts["cluster"])
            windows = windows_for(cluster)
            if not windows:
                self.stdout.write(f"{cluster.name}: no maintenance window (it may start at any time)")
                return
            for window in windows:
                self.stdout.write(f"{window.pk}\t{self._describe(window)}")
            decision = window_decision(cluster, now=timezone.now(), expected_seconds=0)
            self.stdout.write(f"now: {'open' if decision.allowed else 'closed'}: {decision.reason}")
            return
        windows = MaintenanceWindow.objects.select_related("cluster").order_by("id")
        if not windows:
            self.stdout.write("No maintenance windows.")
        for window in windows:
            self.stdout.write(f"{window.pk}\t{self._describe(window)}")

    def _remove(self, opts, actor):
        window = MaintenanceWindow.objects.select_related("cluster").filter(pk=opts["id"]).first()
        if window is None:
            raise CommandError(f"no maintenance window with id {opts['id']}")
        described = self._describe(window)
        window_remove(window=window, actor=actor)
        self.stdout.write(f"Removed window {opts['id']}: {described}")

    @staticmethod
    def _describe(window):
        target = f"cluster {window.cluster.name}" if window.cluster_id else f"label {window.label}"
        name = f" “{window.name}”" if window.name else ""
        return f"{target}: {format_window(window)}{name}"
