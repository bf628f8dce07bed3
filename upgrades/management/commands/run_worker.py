import signal
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from upgrades.engine.heartbeat import WorkerGroup
from upgrades.engine.mirror import start_mirror_runner
from upgrades.engine.worker import Worker
from upgrades.operations.metrics import serve_worker_metrics


class Command(BaseCommand):
    help = (
        "Run engine worker threads: advance DAGs, claim READY sub-tasks with a lease and run them, and run the "
        "periodic jobs that are due. SIGTERM or Ctrl-C stops gracefully: a running sub-task is handed back "
        "under obshell's continue rule and the worker's heartbeat row is removed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--threads", type=int, default=1, help="worker threads in this process (default 1)")
        parser.add_argument(
            "--metrics-port",
            type=int,
            default=None,
            help="serve this worker's Prometheus metrics on this port (default: not served)",
        )
        parser.add_argument(
            "--metrics-host",
            default="127.0.0.1",
            help="address the metrics port binds to (default 127.0.0.1; 0.0.0.0 for a scraper on another host)",
        )

    def handle(self, *args, **opts):
        threads = max(1, opts["threads"])
        stop = threading.Event()

        def request_stop(signum, _frame):
            self.stderr.write(f"signal {signum}: stopping after handing back running sub-tasks")
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        metrics_server = None
        if opts["metrics_port"] is not None:
            try:
                metrics_server = serve_worker_metrics(opts["metrics_port"], opts["metrics_host"])
            except OSError as exc:
                raise CommandError(f"metrics port {opts['metrics_port']}: {exc.strerror or exc}") from None
            self.stdout.write(f"metrics on http://{opts['metrics_host']}:{opts['metrics_port']}/metrics")
        group = WorkerGroup(kind="process", threads=threads)
        workers = [Worker(name=f"w{i}", crash_mode="process", stop_event=stop, group=group) for i in range(threads)]
        pool = [threading.Thread(target=self._run, args=(w,), name=w.owner) for w in workers]
        group.beat(force=True)
        for thread in pool:
            thread.start()
        mirror = start_mirror_runner(owner=group.owner_for("mirror"), stop_event=stop)
        self.stdout.write(f"worker started with {threads} thread(s): {', '.join(w.owner for w in workers)}")
        self.stdout.flush()
        while any(thread.is_alive() for thread in pool):
            stop.wait(0.5)
        for thread in pool:
            thread.join()
        mirror.join(timeout=10)
        group.stop()
        connections.close_all()
        if metrics_server is not None:
            metrics_server.shutdown()
        self.stdout.write("worker stopped")

    @staticmethod
    def _run(worker):
        try:
            worker.run_forever()
        finally:
            connections.close_all()
