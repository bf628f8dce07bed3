from django.core.management.base import BaseCommand, CommandError

from upgrades.errors import ObshellError
from upgrades.models import Cluster
from upgrades.security.tokens import token_create


class Command(BaseCommand):
    help = (
        "Create an API token for a cluster: the password of the obshell protocol "
        "(ClientSet(host, port, PasswordAuth(token))). The token is printed once, as the last line."
    )

    def add_arguments(self, parser):
        parser.add_argument("cluster", help="the cluster's name")
        parser.add_argument("--label", required=True, help="what the token is for, e.g. ci-pipeline")
        parser.add_argument(
            "--expires-in", type=float, metavar="DAYS", help="the token stops working after DAYS days (default: never)"
        )
        parser.add_argument(
            "--read-only", action="store_true", help="GET routes only: POST and DELETE are refused (401)"
        )

    def handle(self, *args, **opts):
        cluster = Cluster.objects.filter(name=opts["cluster"]).first()
        if cluster is None:
            raise CommandError(f"no cluster named {opts['cluster']!r}")
        try:
            token, secret = token_create(
                cluster=cluster, label=opts["label"], expires_in_days=opts["expires_in"], read_only=opts["read_only"]
            )
        except ObshellError as exc:
            raise CommandError(exc.message) from None
        expiry = f", expires {token.expires_at:%Y-%m-%d %H:%M:%S %Z}" if token.expires_at else ""
        self.stdout.write(
            f"Token {token.pk} for cluster {cluster.name} ({token.label}; {token.get_scope_display()}{expiry}); "
            "it is shown only now:"
        )
        self.stdout.write(secret)
