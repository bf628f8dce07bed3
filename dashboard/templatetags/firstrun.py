"""The first-five-minutes partials: the fleet page's "Try it" card and the fault drill panel that the cluster
page and the run page include (one line each), so their views need no change."""

import json

from django import template

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
