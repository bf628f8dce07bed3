"""Upgrade requests on a production cluster's page: the one waiting for approval, with Approve (and start) and
Refuse for another operator or an admin, Withdraw for the one who asked, Start again for an approved request
whose start was refused, and the latest decided ones."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dashboard.pages.access import role_required
from upgrades.audit import Actor, source_address
from upgrades.errors import ObshellError
from upgrades.models import Cluster, UpgradeRequest
from upgrades.services.approvals import production_labels
from upgrades.services.upgrade_requests import (
    pending_request,
    upgrade_request_approve,
    upgrade_request_refuse,
    upgrade_request_start,
)

RECENT = 5


def requests_context(cluster):
    """What the cluster page's requests card shows."""
    pending = pending_request(cluster)
    recent = list(
        cluster.upgrade_requests.exclude(pk=pending.pk if pending else None)
        .select_related("dag")
        .order_by("-created_at", "-id")[:RECENT]
    )
    return {
        "production_labels": production_labels(cluster),
        "pending_request": pending,
        "recent_requests": recent,
        "startable_request": next((r for r in recent if r.state == UpgradeRequest.State.APPROVED), None),
    }


def _back(cluster):
    return redirect(reverse("cluster", args=[cluster.name]) + "#requests")


def _request(cluster, request_id):
    return get_object_or_404(UpgradeRequest.objects.select_related("cluster"), pk=request_id, cluster=cluster)


@require_POST
@role_required("operator")
def upgrade_request_approve_view(request, name, request_id):
    cluster = get_object_or_404(Cluster, name=name)
    upgrade_request = _request(cluster, request_id)
    actor = Actor.for_user(request.user, source_address=source_address(request))
    try:
        upgrade_request = upgrade_request_approve(
            request=upgrade_request, actor=actor, reason=request.POST.get("reason", "").strip()
        )
    except ObshellError as error:
        messages.error(request, _("Not approved: %(problem)s") % {"problem": error.message})
        return _back(cluster)
    if upgrade_request.dag_id is None:
        messages.error(
            request,
            _("Approved, but the upgrade was refused at its start: %(problem)s")
            % {"problem": upgrade_request.start_error},
        )
        return _back(cluster)
    messages.success(
        request,
        _("Approved: the upgrade of %(cluster)s to %(target)s started as run %(run)s.")
        % {"cluster": cluster.name, "target": upgrade_request.dag.to_version, "run": upgrade_request.dag.generic_id},
    )
    return redirect("run", dag_id=upgrade_request.dag_id)


@require_POST
@role_required("operator")
def upgrade_request_refuse_view(request, name, request_id):
    cluster = get_object_or_404(Cluster, name=name)
    upgrade_request = _request(cluster, request_id)
    actor = Actor.for_user(request.user, source_address=source_address(request))
    try:
        upgrade_request_refuse(request=upgrade_request, actor=actor, reason=request.POST.get("reason", "").strip())
    except ObshellError as error:
        messages.error(request, _("Not refused: %(problem)s") % {"problem": error.message})
        return _back(cluster)
    if upgrade_request.requested_by_id == request.user.pk:
        messages.success(request, _("Your upgrade request was withdrawn."))
    else:
        messages.success(request, _("Upgrade request refused: nothing was started."))
    return _back(cluster)


@require_POST
@role_required("operator")
def upgrade_request_start_view(request, name, request_id):
    cluster = get_object_or_404(Cluster, name=name)
    upgrade_request = _request(cluster, request_id)
    actor = Actor.for_user(request.user, source_address=source_address(request))
    try:
        upgrade_request = upgrade_request_start(request=upgrade_request, actor=actor)
    except ObshellError as error:
        messages.error(request, _("Not started: %(problem)s") % {"problem": error.message})
        return _back(cluster)
    if upgrade_request.dag_id is None:
        messages.error(
            request, _("The upgrade was refused at its start: %(problem)s") % {"problem": upgrade_request.start_error}
        )
        return _back(cluster)
    messages.success(
        request, _("The approved upgrade started as run %(run)s.") % {"run": upgrade_request.dag.generic_id}
    )
    return redirect("run", dag_id=upgrade_request.dag_id)
