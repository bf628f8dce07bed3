from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class RsaKeyPair(models.Model):
    """The API's RSA key pair, created once and shared by every web process (name is unique). The private key
    (PKCS#8 PEM) is stored Fernet-encrypted under FIELD_ENCRYPTION_KEY (upgrades.security.keys)."""

    name = models.CharField(max_length=32, unique=True, default="api")
    private_key_encrypted = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)


class ApiToken(models.Model):
    """A cluster's API password for the obshell protocol. Only an HMAC-SHA256 digest is stored."""

    class Scope(models.TextChoices):
        FULL = "full", _("full")
        READ_ONLY = "read_only", _("read-only")

    cluster = models.ForeignKey("upgrades.Cluster", on_delete=models.CASCADE, related_name="api_tokens")
    label = models.CharField(max_length=100)
    digest = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)  # None: never
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.FULL)

    class Meta:
        ordering = ["cluster", "-created_at"]

    def __str__(self):
        return f"{self.cluster.name}: {self.label} ({self.prefix}…)"

    @property
    def is_active(self):
        return self.revoked_at is None and not self.is_expired

    @property
    def is_expired(self):
        from django.utils import timezone

        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_read_only(self):
        return self.scope == self.Scope.READ_ONLY


class SeenHeader(models.Model):
    """Replay cache: the digest of every accepted auth header, kept until the header expires."""

    digest = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(db_index=True)


class AuthFailureTally(models.Model):
    """Anonymous API authentication failures counted per source address and minute, so a flood of guesses
    costs one counter and one audit row per minute instead of one audit row per request."""

    source_address = models.CharField(max_length=64)
    minute = models.DateTimeField()  # the start of the minute (UTC, seconds and microseconds zero)
    count = models.PositiveIntegerField(default=0)
    last_err_code = models.CharField(max_length=100, blank=True)
    last_at = models.DateTimeField()

    class Meta:
        ordering = ["-minute", "source_address"]
        constraints = [models.UniqueConstraint(fields=["source_address", "minute"], name="auth_failure_tally_once")]
        indexes = [models.Index(fields=["minute"], name="auth_failure_tally_minute")]

    def __str__(self):
        return f"{self.minute:%Y-%m-%d %H:%M} {self.source_address}: {self.count}"
