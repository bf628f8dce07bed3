from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError

from upgrades.audit import Actor
from upgrades.management.commands.upgrade import command_actor
from upgrades.security.login_links import PATH, login_link_create


def base_url(host, port):
    host = "127.0.0.1" if host in ("", "0.0.0.0", "localhost") else "[::1]" if host in ("::", "::1") else host
    return f"http://{host}:{port}"


class Command(BaseCommand):
    help = (
        "Print a new one-time sign-in link (embedded profile only): it signs the user in once, within "
        f"{settings.LOGIN_LINK_MINUTES} minutes, from this machine only. Earlier unused links stop working."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", default="admin", help="the account the link signs in (default admin)")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, **opts):
        if not settings.LOGIN_LINK:
            raise CommandError(
                "sign-in links exist only in the embedded profile (SQLite, no REDIS_URL, EMBEDDED_WORKER=1) "
                "with LOGIN_LINK on"
            )
        user = User.objects.filter(username=opts["user"], is_active=True).first()
        if user is None:
            raise CommandError(f"no active user named {opts['user']!r} (manage.py seed_demo creates admin)")
        _, secret = login_link_create(user=user, actor=Actor.system(command_actor()))
        self.stdout.write(base_url(opts["host"], opts["port"]) + PATH.format(secret=secret))
