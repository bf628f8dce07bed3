"""The signed-in person's own page: language and time zone (README: Language and time)."""

import functools
import zoneinfo

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.i18n import JavaScriptCatalog

from dashboard.pages.access import role_required
from dashboard.pages.widgets import QuickSelect
from upgrades.models.preferences import LANGUAGE_CHOICES
from upgrades.preferences import page_language, preference_of
from upgrades.services.preferences import preference_set


@functools.cache
def _zone_names():
    # available_timezones() walks the tzdata directories on every call; the list is fixed for the process.
    return tuple(sorted(zoneinfo.available_timezones()))


def zone_choices():
    """Every IANA zone zoneinfo knows, after an empty choice: the server's TIME_ZONE."""
    return [("", _("The server's time zone")), *((name, name) for name in _zone_names())]


class PreferenceForm(forms.Form):
    language = forms.ChoiceField(label=_("Language"), choices=LANGUAGE_CHOICES, required=False, widget=QuickSelect)
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=zone_choices, required=False, widget=QuickSelect)


@role_required("viewer")
def preferences(request):
    stored = preference_of(request.user)
    if request.method == "POST":
        form = PreferenceForm(request.POST)
        if form.is_valid():
            try:
                saved = preference_set(
                    user=request.user,
                    language=form.cleaned_data["language"],
                    time_zone=form.cleaned_data["time_zone"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                # The answer to this very request already speaks the new language.
                translation.activate(page_language(saved, request.META.get("HTTP_ACCEPT_LANGUAGE", "")))
                messages.success(request, gettext("Preferences saved."))
                return redirect("preferences")
    else:
        initial = {"language": stored.language, "time_zone": stored.time_zone} if stored else {}
        form = PreferenceForm(initial=initial)
    context = {"form": form, "server_zone": settings.TIME_ZONE}
    return render(request, "pages/preferences.html", context)


# The pages' scripts read their words from this catalog (locale/*/djangojs.po), loaded before them by base.html.
javascript_catalog = role_required("viewer")(JavaScriptCatalog.as_view(domain="djangojs"))
