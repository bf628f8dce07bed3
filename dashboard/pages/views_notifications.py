"""Notifications (admins): the subscriptions page (list and add), one subscription's page (edit, enable or
disable, send a test, delete, and every delivery with its request, answer and attempts). Every change goes
through upgrades.services.notifications, which audits it."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_POST

from dashboard.pages.access import role_required
from dashboard.pages.views_preferences import zone_choices
from dashboard.pages.widgets import NamesInput, QuickSelect
from upgrades.audit import Actor, source_address
from upgrades.errors import ObshellError
from upgrades.models import Cluster, Subscription
from upgrades.notifications.selectors import deliveries_of, subscription_rows
from upgrades.services.notifications import (
    subscription_create,
    subscription_delete,
    subscription_send_test,
    subscription_update,
)

PAGE_SIZE = 25
MESSAGE_LANGUAGES = [("", gettext_lazy("The site's language")), ("en", "English"), ("zh-hans", "简体中文")]


class ClusterNamesField(forms.Field):
    """Clusters by name, typed (commas or spaces between them; the browser suggests from <datalist
    id="cluster-names">), rather than a checkbox per cluster of a thousand-cluster fleet. Unknown names are refused."""

    widget = NamesInput
    default_error_messages = {"invalid_choice": forms.ModelMultipleChoiceField.default_error_messages["invalid_choice"]}

    def to_python(self, value):
        names = list(dict.fromkeys((value or "").replace(",", " ").split()))
        found = {cluster.name: cluster for cluster in Cluster.objects.filter(name__in=names)}
        for name in names:
            if name not in found:
                raise ValidationError(
                    self.error_messages["invalid_choice"], code="invalid_choice", params={"value": name}
                )
        return [found[name] for name in names]


class SubscriptionForm(forms.Form):
    name = forms.CharField(max_length=100)
    format = forms.ChoiceField(choices=Subscription.Format.choices)
    target = forms.CharField(max_length=2000, required=False)
    secret = forms.CharField(max_length=500, required=False, widget=forms.PasswordInput(render_value=False))
    all_clusters = forms.BooleanField(required=False, initial=True)
    clusters = ClusterNamesField(required=False)
    events = forms.MultipleChoiceField(choices=Subscription.Event.choices, initial=list(Subscription.Event.values))
    # What its messages are written in (empty: the site's language and TIME_ZONE).
    language = forms.ChoiceField(choices=MESSAGE_LANGUAGES, required=False, widget=QuickSelect)
    time_zone = forms.ChoiceField(choices=zone_choices, required=False, widget=QuickSelect)

    def __init__(self, *args, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.editing = editing
        if editing:
            self.fields["format"].disabled = True

    def clean(self):
        data = super().clean()
        if not self.editing and not data.get("target"):
            self.add_error("target", gettext("Give the webhook URL or the email addresses."))
        if not data.get("all_clusters") and not data.get("clusters"):
            self.add_error("clusters", gettext("Choose clusters, or tick all clusters."))
        return data


def _choices(form):
    """What the form's checkboxes show ticked: what was posted, else the initial values."""
    if form.is_bound:
        return {
            "selected_clusters": " ".join(form.data.getlist("clusters")),
            "selected_events": form.data.getlist("events"),
            "all_clusters_checked": bool(form.data.get("all_clusters")),
        }
    clusters = form.initial.get("clusters", [])
    return {
        "selected_clusters": ", ".join(c.name for c in clusters),
        "selected_events": form.initial.get("events", form.fields["events"].initial),
        "all_clusters_checked": form.initial.get("all_clusters", True),
    }


def _actor(request):
    return Actor.for_user(request.user, source_address=source_address(request))


def _list(request, form, status=200):
    context = {
        "rows": subscription_rows(),
        "form": form,
        "dashboard_url": settings.DASHBOARD_URL,
        "allow_private": settings.WEBHOOK_ALLOW_PRIVATE,
        "events": Subscription.Event.choices,
        "formats": Subscription.Format.choices,
        **_choices(form),
    }
    return render(request, "pages/notifications.html", context, status=status)


@role_required("admin")
def subscription_list(request):
    if request.method != "POST":
        return _list(request, SubscriptionForm())
    form = SubscriptionForm(request.POST)
    if not form.is_valid():
        return _list(request, form, status=400)
    data = form.cleaned_data
    try:
        subscription = subscription_create(
            actor=_actor(request),
            name=data["name"],
            format=data["format"],
            target=data["target"],
            secret=data["secret"],
            clusters=None if data["all_clusters"] else list(data["clusters"]),
            events=data["events"],
            language=data["language"],
            time_zone=data["time_zone"],
        )
    except ObshellError as error:
        form.add_error(None, error.message)
        return _list(request, form, status=400)
    messages.success(
        request,
        gettext("Subscription “%(name)s” added. Send a test to check the target.") % {"name": subscription.name},
    )
    return redirect("notification", subscription.pk)


def _detail(request, subscription, form, status=200):
    page = Paginator(deliveries_of(subscription), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "subscription": subscription,
        "form": form,
        "page": page,
        "dashboard_url": settings.DASHBOARD_URL,
        "allow_private": settings.WEBHOOK_ALLOW_PRIVATE,
        "events": Subscription.Event.choices,
        "formats": Subscription.Format.choices,
        **_choices(form),
    }
    return render(request, "pages/notification.html", context, status=status)


def _edit_form(subscription):
    return SubscriptionForm(
        editing=True,
        initial={
            "name": subscription.name,
            "format": subscription.format,
            "all_clusters": subscription.all_clusters,
            "clusters": list(subscription.clusters.all()),
            "events": subscription.events,
            "language": subscription.language,
            "time_zone": subscription.time_zone,
        },
    )


@role_required("admin")
def subscription_detail(request, subscription_id):
    subscription = get_object_or_404(Subscription, pk=subscription_id)
    if request.method != "POST":
        return _detail(request, subscription, _edit_form(subscription))
    form = SubscriptionForm(request.POST, editing=True, initial={"format": subscription.format})
    if not form.is_valid():
        return _detail(request, subscription, form, status=400)
    data = form.cleaned_data
    try:
        subscription = subscription_update(
            subscription=subscription,
            actor=_actor(request),
            name=data["name"],
            target=data["target"] or None,
            secret=data["secret"] or None,
            clusters=None if data["all_clusters"] else list(data["clusters"]),
            events=data["events"],
            language=data["language"],
            time_zone=data["time_zone"],
        )
    except ObshellError as error:
        form.add_error(None, error.message)
        return _detail(request, subscription, form, status=400)
    messages.success(request, gettext("Subscription “%(name)s” saved.") % {"name": subscription.name})
    return redirect("notification", subscription.pk)


@require_POST
@role_required("admin")
def subscription_toggle(request, subscription_id):
    subscription = get_object_or_404(Subscription, pk=subscription_id)
    enable = request.POST.get("enabled") == "1"
    subscription_update(subscription=subscription, actor=_actor(request), enabled=enable)
    if enable:
        messages.success(
            request, gettext("“%(name)s” enabled: it hears of events from now on.") % {"name": subscription.name}
        )
    else:
        messages.success(
            request,
            gettext("“%(name)s” disabled: nothing is sent to it until it is enabled again.")
            % {"name": subscription.name},
        )
    return redirect("notification", subscription.pk)


@require_POST
@role_required("admin")
def subscription_test(request, subscription_id):
    subscription = get_object_or_404(Subscription, pk=subscription_id)
    delivery = subscription_send_test(subscription=subscription, actor=_actor(request))
    if delivery.state == delivery.State.SUCCEEDED:
        status = f"HTTP {delivery.response_status}" if delivery.response_status else gettext("accepted")
        messages.success(request, gettext("Test message delivered (%(status)s).") % {"status": status})
    else:
        messages.error(request, gettext("Test message not delivered: %(error)s") % {"error": delivery.last_error})
    return redirect(f"/notifications/{subscription.pk}/#delivery-{delivery.pk}")


@require_POST
@role_required("admin")
def subscription_delete_view(request, subscription_id):
    subscription = get_object_or_404(Subscription, pk=subscription_id)
    detail = subscription_delete(subscription=subscription, actor=_actor(request))
    messages.success(
        request,
        gettext("Subscription “%(name)s” deleted with its %(n)s deliveries.")
        % {"name": detail["name"], "n": detail["deliveries"]},
    )
    return redirect("notifications")
