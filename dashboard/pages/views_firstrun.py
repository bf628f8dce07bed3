"""Dismissing a first-run hint (the fleet page's "Try it" card): kept per user, so it stays closed."""

from django.http import Http404
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from dashboard.pages.access import role_required
from dashboard.pages.firstrun import HINTS, hint_dismiss


@require_POST
@role_required("viewer")
def hint_dismiss_view(request, key):
    if key not in HINTS:
        raise Http404("no such hint")
    hint_dismiss(user=request.user, key=key)
    return redirect("clusters")
