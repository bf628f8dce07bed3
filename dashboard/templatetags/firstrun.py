"""The first-five-minutes partials: the fleet page's "Try it" card and the fault drill panel that the cluster
page and the run page include (one line each), so their views need no change."""

import json

from django import template
from django.db.models import Count
from django.utils.html import format_html, format_html_join

from dashboard.pages.firstrun import try_it
from upgrades.models import Cluster, Fault
from upgrades.models.cluster import Backend
from upgrades.roles import has_role
from upgrades.services.faults import KIND_HELP, KIND_LABELS, drill_stages, faults_armed

register = template.Library()


@register.inclusion_tag("pages/_try_it.html", takes_context=True)
def try_it_card(context):
    request = context["request"]
    return {
        "card": try_it(request.user),
        "csrf_token": context.get("csrf_token"),
        "request": request,
        "user": request.user,
    }


@register.inclusion_tag("pages/_faults.html", takes_context=True)
def fault_drills(context, cluster, dag_id=None):
    """The panel for `cluster` (a Cluster or its name); on a run page, `dag_id` offers that run's stages."""
    request = context["request"]
    if not isinstance(cluster, Cluster):
        cluster = Cluster.objects.filter(name=cluster).first()
    if cluster is None:
        return {"cluster": None}
    simulated = cluster.backend == Backend.SIMULATED
    stages = drill_stages(cluster, dag_id) if simulated else []
    servers = {pk: address for stage in stages for pk, address in stage.servers}
    return {
        "cluster": cluster,
        "simulated": simulated,
        "faults": faults_armed(cluster),
        "stages": [
            {"name": s.name, "servers": json.dumps([pk for pk, _ in s.servers]), "default": s.name == "Stop zone2"}
            for s in stages
        ],
        "servers": sorted(servers.items(), key=lambda item: item[0]),
        "kinds": [(kind, KIND_LABELS[kind], KIND_HELP[kind]) for kind in Fault.Kind.values],
        "can_arm": has_role(request.user, "admin"),
        "on_run": dag_id is not None,
        "next": request.get_full_path(),
        "csrf_token": context.get("csrf_token"),
        "request": request,
        "user": request.user,
    }


@register.simple_tag(takes_context=True)
def armed_faults_badge(context, cluster):
    """On the fleet list: how many faults are armed on this cluster (one query for the whole list)."""
    counts = context.render_context.get("armed_fault_counts")
    if counts is None:
        counts = dict(Fault.objects.values_list("cluster_id").annotate(n=Count("id")).values_list("cluster_id", "n"))
        context.render_context["armed_fault_counts"] = counts
    n = counts.get(cluster.pk, 0)
    if not n:
        return ""
    return format_html(
        '<a class="cell-sub" href="/clusters/{}/#faults" data-armed-faults="{}"><span class="badge badge-armed">'
        '<span aria-hidden="true">⚡</span> {} fault{} armed</span></a>',
        cluster.name,
        n,
        n,
        "" if n == 1 else "s",
    )


@register.simple_tag
def armed_faults_note(cluster):
    """Beside the Upgrade button: the faults this run will meet, so a drill is never a surprise."""
    faults = faults_armed(cluster)
    if not faults:
        return ""
    items = format_html_join(
        ", ",
        "{} ×{} at “{}”{}",
        (
            (f.get_kind_display(), f.times_remaining, f.node_name, f" on {f.server}" if f.server_id else "")
            for f in faults
        ),
    )
    return format_html(
        '<p class="alert alert-warn armed-note" data-armed-note><span aria-hidden="true">⚡</span> '
        "<strong>{} fault{} armed on {}:</strong> {}. This run meets {} at {} stage{}. "
        '<a href="#faults">See or disarm</a>.</p>',
        len(faults),
        "" if len(faults) == 1 else "s",
        cluster.name,
        items,
        "it" if len(faults) == 1 else "them",
        "its" if len(faults) == 1 else "their",
        "" if len(faults) == 1 else "s",
    )
