from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from upgrades.models import Cluster, RsaKeyPair, Subscription
from upgrades.security.keys import FieldDecryptError, field_reencrypt


class Command(BaseCommand):
    help = (
        "Re-encrypt every secret stored in the database under the first FIELD_ENCRYPTION_KEY. To rotate: put a "
        "new key first in FIELD_ENCRYPTION_KEY (keep the old ones after it), restart, run this, then drop the "
        "old keys."
    )

    def handle(self, *args, **opts):
        counts = {"rsa keys": 0, "agent passwords": 0, "root@sys passwords": 0, "notification subscriptions": 0}
        try:
            with transaction.atomic():
                for row in RsaKeyPair.objects.select_for_update():
                    row.private_key_encrypted = field_reencrypt(row.private_key_encrypted)
                    row.save(update_fields=["private_key_encrypted"])
                    counts["rsa keys"] += 1
                for field, what in (
                    ("agent_password_encrypted", "agent passwords"),
                    ("ob_password_encrypted", "root@sys passwords"),
                ):
                    for cluster in Cluster.objects.select_for_update().exclude(**{field: ""}):
                        setattr(cluster, field, field_reencrypt(getattr(cluster, field)))
                        cluster.save(update_fields=[field])
                        counts[what] += 1
                for subscription in Subscription.objects.select_for_update():
                    subscription.target_encrypted = field_reencrypt(subscription.target_encrypted)
                    if subscription.secret_encrypted:
                        subscription.secret_encrypted = field_reencrypt(subscription.secret_encrypted)
                    subscription.save(update_fields=["target_encrypted", "secret_encrypted"])
                    counts["notification subscriptions"] += 1
        except FieldDecryptError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            "Re-encrypted under the first FIELD_ENCRYPTION_KEY: "
            + ", ".join(f"{n} {what}" for what, n in counts.items())
        )
