"""Maintenance windows from a cluster's page: the windows that apply (its own and its labels'), whether one is
open now, and, for admins, adding one (to the cluster or to one of its labels) and removing one."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dashboard.pages.access import role_required
from upgrades.audit import Actor, source_address
from upgrades.errors import ObshellError
from upgrades.models import Cluster
from upgrades.operations.windows import EXAMPLES, decide, format_window, windows_for
from upgrades.services.windows import window_add, window_remove


def windows_context(cluster):
    """What the cluster page's windows card shows: each window with its rule, and the decision for now."""
    windows = windows_for(cluster)
    return {
        "windows": [{"row": window, "rule": format_window(window)} for window in windows],
        "window_now": decide(windows, now=timezone.now(), expected_seconds=0),
        "window_examples": EXAMPLES,
        "window_zone": windows[0].time_zone if windows else "UTC",
    }


def _back(cluster):
    return redirect(reverse("cluster", args=[cluster.name]) + "#windows")


@require_POST
@role_required("admin")
def cluster_window_add_view(request, name):
    cluster = get_object_or_404(Cluster, name=name)
    actor = Actor.for_user(request.user, source_address=source_address(request))
    applies_to = request.POST.get("applies_to", "cluster")
    label = "" if applies_to == "cluster" else applies_to.removeprefix("label:")
    try:
        window = window_add(
            cluster=None if label else cluster,
            label=label,
            window=request.POST.get("window", ""),
            name=request.POST.get("name", ""),
            actor=actor,
        )
    except ObshellError as error:
        messages.error(request, _("No window was added: %(problem)s.") % {"problem": error.message})
        return _back(cluster)
    target = _("every cluster labelled %(label)s") % {"label": label} if label else cluster.name
    messages.success(
        request,
        _("Maintenance window %(rule)s added to %(target)s.") % {"rule": format_window(window), "target": target},
    )
    return _back(cluster)


@require_POST
@role_required("admin")
def cluster_window_remove_view(request, name, window_id):
    cluster = get_object_or_404(Cluster, name=name)
    # Only a window that applies to this cluster can be removed from its page.
    window = next((window for window in windows_for(cluster) if window.pk == window_id), None)
    if window is None:
        raise Http404(f"no maintenance window {window_id} applies to {cluster.name}")
    actor = Actor.for_user(request.user, source_address=source_address(request))
    rule = format_window(window)
    try:
        window_remove(window=window, actor=actor)
    except ObshellError as error:
        messages.error(request, _("No window was removed: %(problem)s.") % {"problem": error.message})
        return _back(cluster)
    messages.success(request, _("Maintenance window %(rule)s removed.") % {"rule": rule})
    return _back(cluster)
