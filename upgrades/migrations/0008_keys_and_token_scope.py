"""Token expiry and scope; the RSA private key encrypted at rest under FIELD_ENCRYPTION_KEY."""

from django.db import migrations, models

PEM_START = "-----BEGIN"


def encrypt_private_keys(apps, schema_editor):
    from upgrades.security.keys import field_encrypt

    RsaKeyPair = apps.get_model("upgrades", "RsaKeyPair")
    for row in RsaKeyPair.objects.all():
        if row.private_key_encrypted.startswith(PEM_START):
            row.private_key_encrypted = field_encrypt(row.private_key_encrypted)
            row.save(update_fields=["private_key_encrypted"])


def decrypt_private_keys(apps, schema_editor):
    from upgrades.security.keys import field_decrypt

    RsaKeyPair = apps.get_model("upgrades", "RsaKeyPair")
    for row in RsaKeyPair.objects.all():
        if not row.private_key_encrypted.startswith(PEM_START):
            row.private_key_encrypted = field_decrypt(row.private_key_encrypted)
            row.save(update_fields=["private_key_encrypted"])


class Migration(migrations.Migration):
    dependencies = [
        ("upgrades", "0007_operations"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="scope",
            field=models.CharField(
                choices=[("full", "full"), ("read_only", "read-only")], default="full", max_length=16
            ),
        ),
        migrations.RenameField(
            model_name="rsakeypair",
            old_name="private_key_pem",
            new_name="private_key_encrypted",
        ),
        migrations.RunPython(encrypt_private_keys, decrypt_private_keys),
    ]
