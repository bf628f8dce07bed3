"""What a person chose for the pages: their language and time zone (README: Language and time)."""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

LANGUAGE_CHOICES = [("", _("From the browser")), ("en", "English"), ("zh-hans", "简体中文")]


def validate_time_zone(value):
    """An IANA zone name zoneinfo knows (empty: the server's TIME_ZONE)."""
    if not value:
        return
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            _("%(zone)s is not a known time zone (IANA name, e.g. Asia/Shanghai)."), params={"zone": value}
        ) from None


class UserPreference(models.Model):
    """One per user, made on first save. Empty fields fall back: language to Accept-Language, then
    LANGUAGE_CODE; time zone to TIME_ZONE."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference")
    language = models.CharField(max_length=16, blank=True, choices=LANGUAGE_CHOICES)
    time_zone = models.CharField(max_length=64, blank=True, validators=[validate_time_zone])
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.user}: {self.language or 'browser'} / {self.time_zone or 'server zone'}"
