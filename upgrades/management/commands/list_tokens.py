from django.core.management.base import BaseCommand

from upgrades.models import ApiToken


def _when(value):
    return f"{value:%Y-%m-%d %H:%M:%S}" if value else "-"


class Command(BaseCommand):
    help = (
        "List API tokens (never the secrets): id, cluster, label, prefix, scope, created, last used, expires, revoked."
    )

    def add_arguments(self, parser):
        parser.add_argument("--cluster", help="only this cluster's tokens")
        parser.add_argument("--active", action="store_true", help="hide revoked tokens")

    def handle(self, *args, **opts):
        tokens = ApiToken.objects.select_related("cluster").order_by("cluster__name", "id")
        if opts["cluster"]:
            tokens = tokens.filter(cluster__name=opts["cluster"])
        if opts["active"]:
            tokens = tokens.filter(revoked_at__isnull=True)
        header = (
            f"{'ID':>5}  {'CLUSTER':<20} {'LABEL':<24} {'PREFIX':<14} {'SCOPE':<9}  {'CREATED':<19}  "
            f"{'LAST USED':<19}  {'EXPIRES':<19}  REVOKED"
        )
        self.stdout.write(header)
        for token in tokens:
            expires = _when(token.expires_at) + (" (expired)" if token.is_expired else "")
            self.stdout.write(
                f"{token.pk:>5}  {token.cluster.name:<20} {token.label:<24} {token.prefix + '…':<14} "
                f"{token.get_scope_display():<9}  {_when(token.created_at):<19}  {_when(token.last_used_at):<19}  "
                f"{expires:<19}  {_when(token.revoked_at)}"
            )
