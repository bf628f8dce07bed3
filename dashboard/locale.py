"""Pages in the reader's language and time zone (upgrades/preferences.py says which). API paths are left to
ApiEnvelopeMiddleware, whose errors follow Accept-Language alone."""

from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers

from upgrades.api.envelope import is_api_path
from upgrades.preferences import page_language, page_time_zone, preference_of


class PreferenceMiddleware:
    """After AuthenticationMiddleware: activates the user's language and zone for the whole request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if is_api_path(request.path):
            return self.get_response(request)
        preference = preference_of(request.user)
        language = page_language(preference, request.META.get("HTTP_ACCEPT_LANGUAGE", ""))
        zone = page_time_zone(preference)
        translation.activate(language)
        timezone.activate(zone)
        request.LANGUAGE_CODE = language
        request.TIME_ZONE = zone.key
        try:
            response = self.get_response(request)
        finally:
            timezone.deactivate()
            translation.deactivate()
        patch_vary_headers(response, ["Accept-Language", "Cookie"])
        response.headers.setdefault("Content-Language", language)
        return response
