from django.core.management.base import BaseCommand, CommandError

from upgrades.demo.scale import FleetExists, remove_seeded_fleet, seed_fleet


class Command(BaseCommand):
    help = (
        "Fill the database with a fleet at scale (fleet-0001...): clusters, servers, packages, a history of runs "
        "with stages, sub-tasks, logs, events and audit, a few running, failed and held runs, duration statistics."
    )

    def add_arguments(self, parser):
        parser.add_argument("--clusters", type=int, default=1000)
        parser.add_argument("--servers", type=int, default=9, help="servers per cluster (3 zones when 3 or more)")
        parser.add_argument("--runs", type=int, default=20000, help="finished runs, spread over the clusters")
        parser.add_argument("--reset", action="store_true", help="delete an earlier seeded fleet first")
        parser.add_argument(
            "--full-detail",
            action="store_true",
            help="sub-tasks, log lines and events for every run (default: each cluster's latest runs only)",
        )

    def handle(self, *args, clusters, servers, runs, reset, full_detail, **opts):
        if clusters < 1 or servers < 1 or runs < 0:
            raise CommandError("--clusters and --servers must be at least 1, --runs at least 0")
        if reset:
            removed = remove_seeded_fleet()
            if removed:
                self.stdout.write(f"removed the earlier seeded fleet ({removed} clusters)")
        try:
            report = seed_fleet(clusters=clusters, servers=servers, runs=runs, full_detail=full_detail)
        except FleetExists as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"seeded {report.clusters} clusters, {report.servers} servers, {report.runs} runs "
            f"({report.active} running, failed or held now), {report.nodes} stages, {report.sub_tasks} sub-tasks, "
            f"{report.logs} log lines, {report.events} events, {report.audit} audit entries in {report.seconds:.1f} s"
        )
