"""Fleet campaigns: the list, the new-campaign form (with a preview of the clusters it picks and leaves out),
a campaign's page (its waves by cluster, live from the feed) and its actions."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dashboard.pages.access import role_required
from dashboard.pages.campaign_forms import CampaignActionForm, CampaignForm
from dashboard.pages.campaign_selectors import CAMPAIGN_ICONS, campaign_page, campaign_rows
from upgrades.audit import Actor, source_address
from upgrades.models import Campaign, Cluster
from upgrades.roles import has_role
from upgrades.services.campaign_plan import CampaignRefused, plan_campaign
from upgrades.services.campaigns import (
    campaign_abort,
    campaign_approval,
    campaign_approve,
    campaign_create,
    campaign_pause,
    campaign_resume,
    campaign_skip_cluster,
    campaign_start,
)


@role_required("viewer")
def campaign_list(request):
    return render(
        request,
        "pages/campaigns.html",
        {"campaigns": campaign_rows(), "icons": CAMPAIGN_ICONS, "can_create": has_role(request.user, "operator")},
    )


@role_required("operator")
def campaign_new(request):
    """GET: the form. POST action=preview: the clusters the form picks, in waves, and those left out; POST
    action=create: the campaign (then its page)."""
    form = CampaignForm(request.POST or None)
    context = {"form": form}
    status = 200
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "pages/campaign_new.html", context, status=400)
        try:
            context["plan"] = plan_campaign(**form.plan_options())
            if request.POST.get("action") == "create":
                actor = Actor.for_user(request.user, source_address=source_address(request))
                campaign = campaign_create(actor=actor, **form.create_options())
                messages.success(request, _("Campaign “%(name)s” created.") % {"name": campaign.name})
                return redirect("campaign", campaign_id=campaign.pk)
        except CampaignRefused as refusal:
            context["refusal"] = str(refusal)
            status = 400
    return render(request, "pages/campaign_new.html", context, status=status)


@role_required("viewer")
def campaign_detail(request, campaign_id):
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    context = campaign_page(campaign)
    context.update(
        can_act=has_role(request.user, "operator"),
        is_creator=campaign.created_by_id is not None and campaign.created_by_id == request.user.pk,
        action_form=CampaignActionForm(),
        approval=campaign_approval(campaign) if campaign.needs_approval else None,
    )
    return render(request, "pages/campaign.html", context)


@require_POST
@role_required("operator")
def campaign_act(request, campaign_id):
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    form = CampaignActionForm(request.POST)
    if not form.is_valid():
        for error in form.non_field_errors() or [_("That action is not known.")]:
            messages.error(request, error)
        return redirect("campaign", campaign_id=campaign.pk)
    action = form.cleaned_data["action"]
    reason = form.cleaned_data["reason"].strip()
    actor = Actor.for_user(request.user, source_address=source_address(request))
    try:
        if action == "approve":
            campaign_approve(campaign=campaign, actor=actor, reason=reason)
        elif action == "start":
            campaign_start(campaign=campaign, actor=actor, reason=reason)
        elif action == "pause":
            campaign_pause(campaign=campaign, actor=actor, reason=reason)
        elif action in ("resume", "resume_skip"):
            campaign_resume(campaign=campaign, actor=actor, reason=reason, skip_failed=action == "resume_skip")
        elif action == "abort":
            campaign_abort(campaign=campaign, actor=actor, reason=reason)
        elif action == "skip":
            cluster = Cluster.objects.filter(name=form.cleaned_data["cluster"]).first()
            if cluster is None:
                raise Http404("no such cluster")
            campaign_skip_cluster(campaign=campaign, cluster=cluster, actor=actor, reason=reason)
    except CampaignRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, _("Done: %(action)s.") % {"action": action.replace("_", " ")})
    return redirect("campaign", campaign_id=campaign.pk)
