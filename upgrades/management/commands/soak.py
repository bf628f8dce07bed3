import signal
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from upgrades.management.soak.chaos import KINDS
from upgrades.management.soak.driver import Soak, SoakOptions, report, write_report_json
from upgrades.operations.processes import missing_tools


class Command(BaseCommand):
    help = (
        "Chaos soak of the scale-out profile: private PostgreSQL and Redis, web processes behind the front, "
        "run_worker processes; runs N zero-duration upgrades over C simulated clusters while injecting faults at "
        "random, watches every DAG through websockets, then checks that every DAG ended as obshell's rules put it, "
        "every event stream is gapless and fully received, no two executions of a sub-task overlapped and nothing "
        "continued that may not continue. Prints a report; exits 1 on any violation."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--upgrades", type=int, default=20, help="how many upgrades to run (default 20)")
        parser.add_argument("--clusters", type=int, default=4, help="simulated clusters upgraded at once (default 4)")
        parser.add_argument(
            "--chaos",
            default=",".join(KINDS),
            help=f"faults to inject, comma-separated from {', '.join(KINDS)}; 'none' for none (default: all)",
        )
        parser.add_argument(
            "--seed", type=int, default=None, help="seed of the random choices (printed when not given)"
        )
        parser.add_argument("--workers", type=int, default=2, help="run_worker processes (default 2)")
        parser.add_argument("--worker-threads", type=int, default=2, help="threads per run_worker (default 2)")
        parser.add_argument("--webs", type=int, default=2, help="web processes behind the front (default 2)")
        parser.add_argument(
            "--budget", type=float, default=3600, help="seconds during which new upgrades start (default 3600)"
        )
        parser.add_argument(
            "--fault-interval", type=float, default=2.0, help="mean seconds between two faults (default 2)"
        )
        parser.add_argument("--lease", type=float, default=5.0, help="WORKER_LEASE_SECONDS of the run (default 5)")
        parser.add_argument(
            "--heartbeat", type=float, default=2.0, help="LIVE_HEARTBEAT_SECONDS of the web processes (default 2)"
        )
        parser.add_argument("--zones", type=int, default=3)
        parser.add_argument("--servers-per-zone", type=int, default=1)
        parser.add_argument("--work-dir", type=Path, default=None, help="where logs go (default: a new temp dir)")
        parser.add_argument("--report-json", type=Path, default=None, help="also write the report as JSON here")

    def handle(self, *args, **opts):
        chaos = [] if opts["chaos"].strip() in ("", "none") else [k.strip() for k in opts["chaos"].split(",")]
        unknown = [kind for kind in chaos if kind not in KINDS]
        if unknown:
            raise CommandError(f"unknown fault kind(s) {', '.join(unknown)}; choose from {', '.join(KINDS)}")
        if opts["upgrades"] < 1 or opts["clusters"] < 1 or opts["workers"] < 1 or opts["webs"] < 1:
            raise CommandError("--upgrades, --clusters, --workers and --webs must be at least 1")
        if "web-kill" in chaos and opts["webs"] < 2:
            raise CommandError("web-kill needs at least two web processes (--webs 2): one always stays up")
        missing = missing_tools()
        if missing:
            raise CommandError(f"the soak runs private services and this machine lacks: {', '.join(missing)}")
        options = SoakOptions(
            upgrades=opts["upgrades"],
            clusters=opts["clusters"],
            chaos=chaos,
            seed=opts["seed"],
            workers=opts["workers"],
            worker_threads=max(1, opts["worker_threads"]),
            webs=opts["webs"],
            budget=opts["budget"],
            fault_interval=max(0.1, opts["fault_interval"]),
            lease=max(1.0, opts["lease"]),
            heartbeat=max(0.5, opts["heartbeat"]),
            zones=opts["zones"],
            servers_per_zone=opts["servers_per_zone"],
            work_dir=opts["work_dir"],
            report_json=opts["report_json"],
        )
        # SIGTERM (a timeout, a CI cancel) unwinds like Ctrl-C: the private services and processes are stopped.
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
        result = Soak(options, self.stdout).run()
        self.stdout.write(report(result))
        if options.report_json is not None:
            write_report_json(result, options.report_json)
        if not result.ok:
            raise SystemExit(1)
