from django.core.management.base import BaseCommand, CommandError

from upgrades.audit import Actor
from upgrades.management.commands.upgrade import command_actor
from upgrades.services.retention import prunable_runs, runs_prune


class Command(BaseCommand):
    help = (
        "Compact the events and task logs of runs that succeeded more than DAYS days ago into one compressed "
        "archive per run (the run page and the API still show them in full). Failed runs, runs, stages, "
        "sub-tasks and audit entries are never pruned. Safe while workers run; running it again does nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--finished-before", type=float, required=True, metavar="DAYS")
        parser.add_argument("--dry-run", action="store_true", help="only count the runs it would prune")

    def handle(self, *args, **opts):
        days = opts["finished_before"]
        if days < 0:
            raise CommandError("--finished-before must not be negative")
        if opts["dry_run"]:
            from datetime import timedelta

            from django.utils import timezone

            count = prunable_runs(cutoff=timezone.now() - timedelta(days=days)).count()
            self.stdout.write(f"would prune {count} run{'s' if count != 1 else ''}")
            return
        # A system actor (no user, no token), named like every command's: "command <os user>".
        self.stdout.write(runs_prune(finished_before_days=days, actor=Actor.system(command_actor())).as_text())
