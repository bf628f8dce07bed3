import signal
import threading

from django.core.management.base import BaseCommand
from django.db import connections

from upgrades.engine.worker import Worker


class Command(BaseCommand):
    help = (
        "Run engine worker threads: advance DAGs, claim READY sub-tasks with a lease and run them. SIGTERM or "
        "Ctrl-C stops gracefully: a running sub-task is handed back under obshell's continue rule."
    )

    def add_arguments(self, parser):
        parser.add_argument("--threads", type=int, default=1, help="worker threads in this process (default 1)")

    def handle(self, *args, **opts):
        threads = max(1, opts["threads"])
        stop = threading.Event()

        def request_stop(signum, _frame):
            self.stderr.write(f"signal {signum}: stopping after handing back running sub-tasks")
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        workers = [Worker(name=f"w{i}", crash_mode="process", stop_event=stop) for i in range(threads)]
        pool = [threading.Thread(target=self._run, args=(w,), name=w.owner) for w in workers]
        for thread in pool:
            thread.start()
        self.stdout.write(f"worker started with {threads} thread(s): {', '.join(w.owner for w in workers)}")
        self.stdout.flush()
        while any(thread.is_alive() for thread in pool):
            stop.wait(0.5)
        for thread in pool:
            thread.join()
        self.stdout.write("worker stopped")

    @staticmethod
    def _run(worker):
        try:
            worker.run_forever()
        finally:
            connections.close_all()
