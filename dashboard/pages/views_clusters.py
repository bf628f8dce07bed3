"""The fleet: the cluster list and a cluster's page (topology, recent runs, the upgrade form, API tokens)."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from dashboard.pages.access import role_required
from dashboard.pages.fleet_selectors import (
    CSV_HEADER,
    PAGE_SIZE,
    SORTS,
    FleetQuery,
    csv_rows,
    fleet_clusters,
    fleet_rows,
)
from dashboard.pages.forms import AgentUpgradeForm, FleetFilterForm, TokenCreateForm, UpgradeForm, rolling_possible
from dashboard.pages.history import csv_response
from dashboard.pages.route_picture import plan_picture
from dashboard.pages.selectors import cluster_page, recent_package_syncs, run_counters
from dashboard.pages.views_upgrade_requests import requests_context
from dashboard.pages.views_windows import windows_context
from upgrades.audit import Actor, source_address
from upgrades.errors import ObshellError
from upgrades.models import ApiToken, Cluster, UpgradeRequest
from upgrades.models.cluster import Backend
from upgrades.planning.agent_plan import plan_agent_upgrade
from upgrades.planning.plan import plan_upgrade
from upgrades.planning.precheck_catalogue import AGENT_ONLY_CHECKS
from upgrades.roles import has_role
from upgrades.security.tokens import token_create, token_revoke
from upgrades.selectors.labels import cluster_labels
from upgrades.services.approvals import production_labels, requires_approval
from upgrades.services.dag_start import agent_upgrade_start, upgrade_start
from upgrades.services.real_upgrades import package_sync_request, route_packages
from upgrades.services.upgrade_requests import upgrade_request_create


@role_required("viewer")
def cluster_list(request):
    """The fleet: searched, filtered, sorted and paginated (`?q= &edition= &state= &sort= &page=`), or its
    versions as CSV with the same filters (`?format=csv`)."""
    form = FleetFilterForm(request.GET or None)
    data = form.valid_data() if form.is_bound else {}
    sort = data.get("sort", "name")
    query = FleetQuery(
        q=data.get("q", ""),
        edition=data.get("edition", ""),
        state=data.get("state", ""),
        label=data.get("label", ""),
        sort=sort.lstrip("-"),
        descending=sort.startswith("-"),
    )
    clusters = fleet_clusters(query)
    if request.GET.get("format") == "csv":
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M%S")
        return csv_response(f"fleet-versions-{stamp}.csv", CSV_HEADER, csv_rows(clusters))
    page = Paginator(clusters, PAGE_SIZE).get_page(request.GET.get("page"))
    filters = _params(request, drop=("page", "format", "sort"))
    context = {
        "form": form,
        "page": page,
        "rows": fleet_rows(list(page.object_list)),
        "filtered": bool(filters),
        "query": _params(request, drop=("page", "format")),
        "sort_links": _sort_links(filters, sort),
        "any_cluster": page.paginator.count > 0 or Cluster.objects.exists(),
    }
    return render(request, "pages/clusters.html", context)


def _params(request, *, drop):
    params = request.GET.copy()
    for name in drop:
        params.pop(name, None)
    for name in [name for name, value in params.items() if value == ""]:
        params.pop(name)
    return params


def _sort_links(filters, current):
    """{sort key: {"href", "state": "ascending" | "descending" | ""}}: a column's link sorts by it ascending, or
    descending when it is the ascending order now; filters are kept and the page starts again at 1."""
    links = {}
    for key in SORTS:
        state = "ascending" if current == key else "descending" if current == f"-{key}" else ""
        params = filters.copy()
        params["sort"] = f"-{key}" if state == "ascending" else key
        links[key] = {"href": "?" + params.urlencode(), "state": state}
    return links


@role_required("viewer")
def counters(request):
    """The top-bar counters as an HTML fragment, for live refreshes on pages without other live regions."""
    html = render_to_string("pages/_counters.html", run_counters(), request=request)
    return HttpResponse(f'<div data-live-region="counters">{html}</div>')


@role_required("viewer")
def package_syncs(request, name):
    """A real cluster's package pushes as an HTML fragment, polled by the cluster page while one is under way."""
    cluster = get_object_or_404(Cluster, name=name)
    response = render(request, "pages/_package_syncs.html", {"package_syncs": recent_package_syncs(cluster)})
    add_never_cache_headers(response)
    return response


def _render_cluster(
    request, cluster, *, form=None, agent_form=None, plan=None, refusal=None, notice="", status=200, **extra
):
    context = cluster_page(cluster)
    context["labels"] = cluster_labels(cluster)
    context.update(windows_context(cluster))
    context.update(requests_context(cluster))
    if has_role(request.user, "admin"):
        context["tokens"] = list(cluster.api_tokens.select_related("created_by").order_by("revoked_at", "-created_at"))
    if cluster.backend == Backend.OBSHELL:
        context["package_syncs"] = recent_package_syncs(cluster)
    context.update(extra)
    if plan is not None:
        context["failed_checks"] = [check for check in plan.checks if check.ok is False]
        context["skipped_checks"] = sum(1 for check in plan.checks if check.ok is None)
        if cluster.backend == Backend.OBSHELL:
            context["agent_checks"] = AGENT_ONLY_CHECKS
            context["agent_check_count"] = sum(1 for check in plan.checks if check.key in AGENT_ONLY_CHECKS)
            context["checks_here"] = len(plan.checks) - context["agent_check_count"]
        if plan.kind == "upgrade":
            context["route_picture"] = plan_picture(plan)
    context.update(
        form=form or UpgradeForm(cluster=cluster),
        agent_form=agent_form or AgentUpgradeForm(cluster=cluster),
        # The form the plan's Upgrade button submits: the OB upgrade's or obshell's.
        plan_form="agent-upgrade-form" if plan is not None and plan.kind == "agent_upgrade" else "upgrade-form",
        plan=plan,
        refusal=refusal,
        notice=notice,
        rolling_possible=rolling_possible(cluster),
        can_upgrade=has_role(request.user, "operator"),
        is_admin=has_role(request.user, "admin"),
    )
    return render(request, "pages/cluster.html", context, status=status)


@role_required("viewer")
def cluster_detail(request, name):
    cluster = get_object_or_404(Cluster, name=name)
    if request.method == "POST":
        return _upgrade(request, cluster)
    return _render_cluster(request, cluster)


@role_required("operator")
def _upgrade(request, cluster):
    """Preview (action=preview) or start (action=upgrade) an upgrade. A start always re-plans: the preview is
    what the operator agreed to, so a start whose parameters differ from the previewed ones is shown again."""
    form = UpgradeForm(request.POST, cluster=cluster)
    if not form.is_valid():
        return _render_cluster(request, cluster, form=form, status=400)
    params = form.parameters()
    plan = plan_upgrade(cluster=cluster, **params)
    key = form.parameters_key()
    previewed_key = form.cleaned_data["plan_key"]
    form = UpgradeForm({**request.POST.dict(), "plan_key": key}, cluster=cluster)
    form.is_valid()
    if request.POST.get("action") != "upgrade":
        return _render_cluster(request, cluster, form=form, plan=plan, **_push_for_preview(cluster, plan))
    reason = form.cleaned_data["reason"].strip()
    if previewed_key != key:
        notice = "The parameters changed since the preview. Review this plan, then click Upgrade again."
        return _render_cluster(request, cluster, form=form, plan=plan, notice=notice)
    if not reason:
        form.add_error(
            "reason", gettext("Say why you are upgrading: the reason is kept with the run and in the audit log.")
        )
        return _render_cluster(request, cluster, form=form, plan=plan, status=400)
    actor = Actor.for_user(request.user, source_address=source_address(request))
    if requires_approval([cluster]):
        return _ask_approval(request, cluster, UpgradeRequest.Kind.UPGRADE, params, reason, form=form, plan=plan)
    try:
        dag = upgrade_start(cluster=cluster, actor=actor, reason=reason, **params)
    except ObshellError as error:
        return _render_cluster(
            request, cluster, form=form, plan=plan, refusal=error, status=409 if error.status >= 500 else error.status
        )
    messages.success(
        request,
        gettext("Upgrade of %(cluster)s to %(to)s started as run %(run)s (obshell generic id %(generic)s).")
        % {"cluster": cluster.name, "to": dag.to_version, "run": dag.pk, "generic": dag.generic_id},
    )
    return redirect("run", dag_id=dag.pk)


def _ask_approval(request, cluster, kind, params, reason, **render):
    """A production cluster's upgrade from the pages waits for a second person: an UpgradeRequest, not a run."""
    actor = Actor.for_user(request.user, source_address=source_address(request))
    try:
        upgrade_request_create(cluster=cluster, kind=kind, actor=actor, reason=reason, **params)
    except ObshellError as error:
        return _render_cluster(
            request, cluster, refusal=error, status=409 if error.status >= 500 else error.status, **render
        )
    messages.info(
        request,
        gettext(
            "%(cluster)s is a production cluster (%(labels)s): the upgrade waits for another operator or an admin "
            "to approve it, and starts then."
        )
        % {"cluster": cluster.name, "labels": ", ".join(production_labels(cluster))},
    )
    return redirect(reverse("cluster", args=[cluster.name]) + "#requests")


def _push_for_preview(cluster, plan):
    """A real cluster's preview starts the push of the route's packages its agent lacks (issue 12)."""
    if cluster.backend != Backend.OBSHELL or plan.error is not None:
        return {}
    try:
        syncs = package_sync_request(cluster=cluster, packages=route_packages(plan.packages))
    except ObshellError as error:
        return {"push_error": error.message}
    return {"preview_syncs": syncs}


@require_POST
@role_required("operator")
def cluster_agent_upgrade(request, name):
    """Preview (action=preview) or start (action=upgrade) obshell's own upgrade: the same flow as an OB upgrade's
    (plan, pre-checks, confirmation with a reason, then the run page), through agent_upgrade_start."""
    cluster = get_object_or_404(Cluster, name=name)
    form = AgentUpgradeForm(request.POST, cluster=cluster)
    if not form.is_valid():
        return _render_cluster(request, cluster, agent_form=form, status=400)
    params = form.parameters()
    plan = plan_agent_upgrade(cluster=cluster, **params)
    key = form.parameters_key()
    previewed_key = form.cleaned_data["plan_key"]
    form = AgentUpgradeForm({**request.POST.dict(), "obshell-plan_key": key}, cluster=cluster)
    form.is_valid()
    if request.POST.get("action") != "upgrade":
        return _render_cluster(request, cluster, agent_form=form, plan=plan)
    reason = form.cleaned_data["reason"].strip()
    if previewed_key != key:
        notice = "The parameters changed since the preview. Review this plan, then click Upgrade obshell again."
        return _render_cluster(request, cluster, agent_form=form, plan=plan, notice=notice)
    if not reason:
        form.add_error(
            "reason", gettext("Say why you are upgrading: the reason is kept with the run and in the audit log.")
        )
        return _render_cluster(request, cluster, agent_form=form, plan=plan, status=400)
    actor = Actor.for_user(request.user, source_address=source_address(request))
    if requires_approval([cluster]):
        kind = UpgradeRequest.Kind.AGENT_UPGRADE
        return _ask_approval(request, cluster, kind, params, reason, agent_form=form, plan=plan)
    try:
        dag = agent_upgrade_start(cluster=cluster, actor=actor, reason=reason, **params)
    except ObshellError as error:
        return _render_cluster(
            request,
            cluster,
            agent_form=form,
            plan=plan,
            refusal=error,
            status=409 if error.status >= 500 else error.status,
        )
    messages.success(
        request,
        gettext("obshell upgrade of %(cluster)s to %(to)s started as run %(run)s (obshell generic id %(generic)s).")
        % {"cluster": cluster.name, "to": dag.to_version, "run": dag.pk, "generic": dag.generic_id},
    )
    return redirect("run", dag_id=dag.pk)


@require_POST
@role_required("admin")
def token_create_view(request, name):
    cluster = get_object_or_404(Cluster, name=name)
    form = TokenCreateForm(request.POST)
    if not form.is_valid():
        return _render_cluster(
            request, cluster, token_error="A token needs a label of at most 100 characters.", status=400
        )
    actor = Actor.for_user(request.user, source_address=source_address(request))
    token, secret = token_create(
        cluster=cluster, label=form.cleaned_data["label"], created_by=request.user, actor=actor
    )
    # Rendered, not redirected: the secret exists only in this response and must not be cached anywhere.
    response = _render_cluster(request, cluster, new_token=token, new_token_secret=secret)
    add_never_cache_headers(response)
    return response


@require_POST
@role_required("admin")
def token_revoke_view(request, name, token_id):
    cluster = get_object_or_404(Cluster, name=name)
    token = get_object_or_404(ApiToken, pk=token_id, cluster=cluster)
    actor = Actor.for_user(request.user, source_address=source_address(request))
    if token_revoke(token=token, actor=actor):
        messages.success(
            request,
            gettext("Token “%(label)s” (%(prefix)s…) revoked: it no longer authenticates.")
            % {"label": token.label, "prefix": token.prefix},
        )
    return redirect(reverse("cluster", args=[cluster.name]) + "#tokens")
