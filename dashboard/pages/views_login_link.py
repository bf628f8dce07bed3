"""The one-time sign-in link `make run` prints (embedded profile only): /login/link/<secret>/ signs the admin in
once, from this machine, then redirects to the fleet; anything else gets a page that says why and what to do."""

from django.contrib import messages
from django.contrib.auth import login
from django.shortcuts import redirect, render
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext
from django.views.decorators.http import require_GET

from upgrades.audit import source_address
from upgrades.security.login_links import LinkRefused, login_link_use


def _private(response):
    # The secret is in the URL: never cache the answer, never send the URL on as a Referer.
    add_never_cache_headers(response)
    response["Referrer-Policy"] = "no-referrer"
    # Django logs every 4xx with its path, which holds the secret: the refusal is audited instead (no secret).
    response._has_been_logged = True
    return response


@require_GET
def login_link(request, secret):
    try:
        user = login_link_use(secret=secret, source_address=source_address(request))
    except LinkRefused as refused:
        return _private(render(request, "registration/login_link.html", {"refused": refused}, status=refused.status))
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    messages.success(
        request,
        gettext(
            "Signed in as %(name)s with the one-time link; it no longer works. "
            "Your session lasts as usual; next time use a password or a new link."
        )
        % {"name": user.get_username()},
    )
    return _private(redirect("clusters"))
