"""What `make run` does once .venv is installed: migrate, seed the demo fleet, serve with daphne. One line per
phase, and the URL last: in the embedded profile a one-time admin sign-in link, else the fleet page."""

import socket
import sys
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from upgrades.audit import Actor
from upgrades.demo.fleet import seed_demo
from upgrades.management.commands.login_link import base_url
from upgrades.operations.metrics import clean_multiprocess_dir
from upgrades.security.login_links import PATH, login_link_create

PHASE_WIDTH = 9


def _database_label():
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        try:
            return str(Path(db["NAME"]).relative_to(settings.BASE_DIR))
        except ValueError:
            return str(db["NAME"])
    return f"PostgreSQL {db.get('NAME')} on {db.get('HOST') or 'localhost'}"


def _port_free(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


class Command(BaseCommand):
    help = "Migrate, seed the demo fleet and serve with daphne, one line per phase and the URL last (make run)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def line(self, phase, text):
        self.stdout.write(f"{phase:<{PHASE_WIDTH}}{text}")
        self.stdout.flush()

    def handle(self, *args, **opts):
        host, port = opts["host"], opts["port"]
        # The embedded profile is the only writer of PROMETHEUS_MULTIPROC_DIR: last run's files would count twice.
        clean_multiprocess_dir()
        started = time.monotonic()
        executor = MigrationExecutor(connection)
        pending = len(executor.migration_plan(executor.loader.graph.leaf_nodes()))
        call_command("migrate", interactive=False, verbosity=0)
        applied = f"{pending} migration{'s' if pending != 1 else ''} applied" if pending else "up to date"
        self.line("migrate", f"{_database_label()}: {applied} ({time.monotonic() - started:.1f} s)")

        started = time.monotonic()
        report = seed_demo()
        names = ", ".join(cluster.name for _, cluster in report.clusters)
        new = f" ({len(report.created_clusters)} new)" if report.created_clusters else ""
        text = f"demo fleet {names}{new}; {len(report.packages)} packages"
        if report.passwords:
            shown = " ".join(f"{role}={password}" for role, password in report.passwords.items())
            text += f"; accounts created, passwords shown only now: {shown}"
        else:
            text += "; accounts viewer, operator, admin exist"
        self.line("seed", f"{text} ({time.monotonic() - started:.1f} s)")

        if not _port_free(host, port):
            raise CommandError(f"{host}:{port} is in use: stop what listens there, or `make run PORT={port + 1}`")
        url = base_url(host, port)
        last = f"open the dashboard: {url}/"
        if settings.LOGIN_LINK:
            admin = User.objects.filter(username="admin", is_active=True).first()
            if admin is not None:
                _, secret = login_link_create(user=admin, actor=Actor.system("make run"))
                last = (
                    f"sign in as admin, once, within {settings.LOGIN_LINK_MINUTES} minutes, from this machine: "
                    f"{url}{PATH.format(secret=secret)}"
                )
        if settings.EMBEDDED_PROFILE:
            profile = f"embedded profile (SQLite, in-memory layer, {settings.EMBEDDED_WORKER_THREADS} worker threads)"
        else:
            profile = (
                "scale-out settings ("
                + ("workers inside" if settings.EMBEDDED_WORKER else "run_worker processes")
                + ")"
            )
        self.serve(
            host,
            port,
            announce=lambda: (
                self.line("serve", f"daphne on {host}:{port}, {profile}; Ctrl-C stops it"),
                self.line("open", last),
            ),
        )

    def serve(self, host, port, announce):
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server

        from dashboard.asgi import application

        endpoints = build_endpoint_description_strings(host=host, port=port)
        server = Server(application=application, endpoints=endpoints, ready_callable=announce, verbosity=0)
        server.run()
        sys.stdout.flush()
