"""Every response under /api/ (and /clusters/<name>/api/) is obshell's JSON envelope, whatever produced it."""

import logging
import time

from django.conf import settings
from django.utils import translation

from upgrades.api import envelope
from upgrades.api.asgi import DELAY_HEADER
from upgrades.errors import ObshellError, bad_request

logger = logging.getLogger(__name__)


def _replacement(response):
    """The envelope error for a response that did not come from an API view."""
    status = response.status_code
    if status in (404, 405) or 300 <= status < 400:
        # Unknown route, wrong method (gin's method-not-allowed is off) or a slash redirect: all 404.
        return envelope.NOT_FOUND
    if status == 413:
        return bad_request("Common.BadRequest", "Bad request: request body too large")
    if 400 <= status < 500:
        return bad_request("Common.BadRequest", f"Bad request: {response.reason_phrase}")
    return None


def _answer_late(request, response, delay):
    """A throttled authentication failure: under ASGI the wrapper in upgrades.api.asgi waits before sending
    (without holding the worker thread that runs sync views); elsewhere the thread waits."""
    if getattr(request, "scope", None) is not None and request.scope.get("ocs_can_delay"):
        response[DELAY_HEADER] = f"{delay:.3f}"
    else:
        time.sleep(delay)


class ApiEnvelopeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not envelope.is_api_path(request.path):
            return self.get_response(request)
        envelope.begin(request)
        # The API's language is its Accept-Language header alone (upgrades/api/i18n.py); the pages keep
        # LANGUAGE_CODE (no LocaleMiddleware).
        with translation.override(request.ocs_language or settings.LANGUAGE_CODE):
            request.LANGUAGE_CODE = translation.get_language()
            response = self._enveloped(request, self.get_response(request))
        delay = getattr(request, "ocs_auth_delay", 0)
        if delay:
            _answer_late(request, response, delay)
        return response

    def _enveloped(self, request, response):
        if getattr(response, "ocs_envelope", False):
            return response
        error = _replacement(response)
        if error is None:
            return envelope.unexpected(request)
        return envelope.fail(request, error)

    def process_exception(self, request, exception):
        if not envelope.is_api_path(request.path):
            return None
        if isinstance(exception, ObshellError):
            return envelope.fail(request, exception)
        logger.exception("unhandled error on %s %s", request.method, request.path, exc_info=exception)
        return envelope.unexpected(request)
