"""The first minutes of the embedded profile: a one-time admin sign-in link, and the hints a user dismissed."""

from django.conf import settings
from django.db import models


class LoginLink(models.Model):
    """A one-time sign-in link printed by `make run`. Only an HMAC-SHA256 digest of its secret is stored; it
    signs its user in once, before `expires_at`, from a loopback address only."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="login_links")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_from = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        state = f"used {self.used_at:%Y-%m-%d %H:%M}" if self.used_at else f"until {self.expires_at:%Y-%m-%d %H:%M}"
        return f"login link for {self.user} ({state})"


class Dismissal(models.Model):
    """A hint (e.g. the fleet page's "Try it" card) a user closed; it stays closed for that user."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="dismissals")
    key = models.CharField(max_length=64)
    dismissed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="dismissal_unique_user_key")]

    def __str__(self):
        return f"{self.user} dismissed {self.key}"
