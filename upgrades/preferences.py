"""Which language and time zone a person sees (README: Language and time).

* Pages: the user's `UserPreference.language`, else the browser's `Accept-Language` (Django's matching against
  LANGUAGES: any `zh*` gives Simplified Chinese), else LANGUAGE_CODE. The time zone: the user's, else TIME_ZONE.
* The obshell-compatible API is not a page: its error messages follow Accept-Language alone
  (upgrades/api/i18n.py), whatever the token's or session's user chose.
* Emails and chat messages: the subscription's own language and time zone (it may reach people who have no
  account), else the site's LANGUAGE_CODE and TIME_ZONE.
"""

import zoneinfo
from contextlib import contextmanager

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation.trans_real import parse_accept_lang_header

from upgrades.models import UserPreference

SITE_LANGUAGE_FALLBACK = "en"


def supported_language(code):
    """`code` as one of LANGUAGES (`zh-CN` -> `zh-hans`, `en-US` -> `en`), or None."""
    if not code:
        return None
    code = code.lower()
    if code.startswith("zh"):
        return "zh-hans"  # the only Chinese catalog; a zh-Hant reader still reads it better than English
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return None


def site_language():
    return supported_language(settings.LANGUAGE_CODE) or SITE_LANGUAGE_FALLBACK


def browser_language(accept_language):
    """The best of LANGUAGES for an Accept-Language header, by q-value, or None."""
    if not isinstance(accept_language, str) or len(accept_language) > 255:
        return None
    for code, _quality in parse_accept_lang_header(accept_language):
        if code == "*":
            break
        found = supported_language(code)
        if found:
            return found
    return None


def preference_of(user):
    """The user's stored preference, or None (an anonymous user, or nothing chosen yet)."""
    if user is None or not user.is_authenticated:
        return None
    return UserPreference.objects.filter(user=user).first()


def page_language(preference, accept_language):
    """user's choice > Accept-Language > the site's default."""
    if preference is not None and preference.language:
        return supported_language(preference.language) or site_language()
    return browser_language(accept_language) or site_language()


def zone_named(name):
    """The ZoneInfo called `name`, or None for an empty or unknown name (a zone removed from tzdata since)."""
    if not name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def page_time_zone(preference):
    """The zone pages render times in: the user's, else the server's TIME_ZONE."""
    zone = zone_named(preference.time_zone) if preference is not None else None
    return zone or zoneinfo.ZoneInfo(settings.TIME_ZONE)


@contextmanager
def message_locale(language, time_zone):
    """Write a message (email, chat) in `language` and `time_zone`, each falling back to the site's."""
    zone = zone_named(time_zone) or zoneinfo.ZoneInfo(settings.TIME_ZONE)
    with translation.override(supported_language(language) or site_language()), timezone.override(zone):
        yield
