"""A person's own language and time zone: no cluster is touched, so nothing is audited or broadcast."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from upgrades.models import UserPreference


@transaction.atomic
def preference_set(*, user: AbstractBaseUser, language: str, time_zone: str) -> UserPreference:
    """Store `user`'s language ("" = from the browser) and time zone ("" = the server's); validated as the
    model says (a language of LANGUAGES, an IANA zone name)."""
    preference, _created = UserPreference.objects.select_for_update().get_or_create(user=user)
    preference.language = language
    preference.time_zone = time_zone
    preference.full_clean(exclude=["user"])
    preference.save()
    return preference
