"""A subscription's target and secret are Fernet tokens under FIELD_ENCRYPTION_KEY, never in clear in the
database, and `rotate_field_encryption` re-encrypts them."""

import io

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from tests.notifications.helpers import subscribe
from upgrades.models import Subscription
from upgrades.security.keys import field_decrypt


@pytest.mark.django_db
def test_target_and_secret_are_encrypted_and_rotate(settings, receiver):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    url = receiver.url("/hook?token=very-secret-token")
    subscription = subscribe(url, secret="hmac-key-123")
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM upgrades_subscription")
        raw = repr(cursor.fetchall())
    assert "very-secret-token" not in raw and "hmac-key-123" not in raw
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_field_encryption", stdout=io.StringIO())
    settings.FIELD_ENCRYPTION_KEYS = [new]
    row = Subscription.objects.get(pk=subscription.pk)
    assert field_decrypt(row.target_encrypted) == url and field_decrypt(row.secret_encrypted) == "hmac-key-123"
