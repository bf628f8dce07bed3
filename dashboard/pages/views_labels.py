"""A cluster's labels from its page: an admin sets one (key and value) or removes one. Plain forms with CSRF;
the answer is a redirect back to the cluster page's labels card, with a message saying what happened."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dashboard.pages.access import role_required
from upgrades.audit import Actor, source_address
from upgrades.errors import ObshellError
from upgrades.models import Cluster
from upgrades.services.labels import label_remove, label_set


def _back(cluster):
    return redirect(reverse("cluster", args=[cluster.name]) + "#labels")


@require_POST
@role_required("admin")
def cluster_label_set_view(request, name):
    cluster = get_object_or_404(Cluster, name=name)
    actor = Actor.for_user(request.user, source_address=source_address(request))
    key, value = request.POST.get("key", ""), request.POST.get("value", "")
    try:
        label = label_set(cluster=cluster, key=key, value=value, actor=actor)
    except ObshellError as error:
        messages.error(request, _("No label was set: %(problem)s.") % {"problem": error.message})
        return _back(cluster)
    messages.success(request, _("%(cluster)s is labelled %(label)s.") % {"cluster": cluster.name, "label": label})
    return _back(cluster)


@require_POST
@role_required("admin")
def cluster_label_remove_view(request, name):
    cluster = get_object_or_404(Cluster, name=name)
    actor = Actor.for_user(request.user, source_address=source_address(request))
    key = request.POST.get("key", "")
    try:
        value = label_remove(cluster=cluster, key=key, actor=actor)
    except ObshellError as error:
        messages.error(request, _("No label was removed: %(problem)s.") % {"problem": error.message})
        return _back(cluster)
    messages.success(
        request,
        _("Label %(key)s=%(value)s removed from %(cluster)s.") % {"key": key, "value": value, "cluster": cluster.name},
    )
    return _back(cluster)
