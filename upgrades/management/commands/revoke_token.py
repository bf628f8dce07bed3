from django.core.management.base import BaseCommand, CommandError

from upgrades.models import ApiToken
from upgrades.security.tokens import token_revoke


class Command(BaseCommand):
    help = "Revoke an API token by its id (see list_tokens): it stops working at once."

    def add_arguments(self, parser):
        parser.add_argument("token_id", type=int)

    def handle(self, *args, **opts):
        token = ApiToken.objects.select_related("cluster").filter(pk=opts["token_id"]).first()
        if token is None:
            raise CommandError(f"no token with id {opts['token_id']}")
        if token_revoke(token=token):
            self.stdout.write(f"Revoked token {token.pk} ({token.cluster.name}: {token.label})")
        else:
            self.stdout.write(f"Token {token.pk} was already revoked")
