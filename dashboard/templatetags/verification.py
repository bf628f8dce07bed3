"""The verification panel (templates/pages/_verification.html) that the run page, the cluster page and the change
report include with one line each, and the labels of its checks and outcomes."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils.translation import gettext_lazy as _

from upgrades.models import Cluster, Dag
from upgrades.models.cluster import Backend
from upgrades.services.verification import cluster_verification, run_verification

register = template.Library()

CHECK_LABELS = {
    "servers_on_target": _("Every server on the target build"),
    "min_observer_version": _("min_observer_version in sync with the build"),
    "tenant_compatible": _("Every tenant's compatible in sync with the build"),
    "upgrade_mode_off": _("Upgrade mode off (enable_upgrade_mode)"),
    "no_stopped_zone": _("No stopped zone"),
}
OUTCOME_LABELS = {"passed": _("Passed"), "failed": _("Failed"), "unknown": _("Unknown")}
OUTCOME_ICONS = {"passed": "✓", "failed": "✕", "unknown": "?"}
# What a passed check counted, per check.
COUNTED = {
    "servers_on_target": _("servers"),
    "min_observer_version": _("servers"),
    "tenant_compatible": _("tenants"),
    "upgrade_mode_off": _("servers"),
    "no_stopped_zone": _("zones"),
}


@register.filter
def check_label(key):
    return CHECK_LABELS.get(key, key)


@register.filter
def check_counted(key):
    return COUNTED.get(key, "")


@register.filter
def outcome_label(status):
    return OUTCOME_LABELS.get(status, status)


@register.filter
def outcome_icon(status):
    return OUTCOME_ICONS.get(status, "•")


@register.filter
def as_datetime(text):
    """An ISO time kept in JSON, as a datetime the `date` filter shows in the reader's time zone."""
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None


@register.inclusion_tag("pages/_verification.html")
def run_verification_panel(dag_id):
    """The panel of a run that has stopped moving (nothing for a running run or one that is not an OB upgrade)."""
    dag = Dag.objects.select_related("cluster").filter(pk=dag_id).first()
    result = run_verification(dag) if dag is not None else None
    return {"verification": result, "dag": dag, "scope": "run", "kept": bool(dag and dag.verification.get("checks"))}


@register.inclusion_tag("pages/_verification.html", takes_context=True)
def cluster_verification_panel(context, cluster):
    """The panel of a cluster now. A real cluster's agent is asked only on request (`?verify=now`), so the page
    never waits for it; until then the panel shows what its last finished upgrade kept."""
    request = context["request"]
    if not isinstance(cluster, Cluster):
        cluster = Cluster.objects.filter(name=cluster).first()
    if cluster is None:
        return {"verification": None}
    if cluster.backend == Backend.OBSHELL and request.GET.get("verify") != "now":
        recent = Dag.objects.filter(cluster=cluster, kind=Dag.Kind.UPGRADE, is_finished=True).order_by(
            "-end_time", "-id"
        )
        run = next((dag for dag in recent[:20] if dag.verification.get("checks")), None)
        return {
            "verification": run.verification if run is not None else None,
            "dag": run,
            "scope": "cluster_kept",
            "cluster": cluster,
            "verify_url": f"{request.path}?verify=now#verification-h",
        }
    found = cluster_verification(cluster)
    return {
        "verification": found["result"],
        "dag": found["run"],
        "scope": "cluster",
        "cluster": cluster,
        "verify_url": f"{request.path}?verify=now#verification-h" if cluster.backend == Backend.OBSHELL else "",
    }


@register.filter
def seconds_text(seconds):
    """A duration for people: "2 h 05 min", "3 min 07 s", "12.4 s"; "—" when unknown."""
    if seconds is None:
        return "—"
    seconds = float(seconds)
    if seconds < 60:
        return _("%(seconds).1f s") % {"seconds": seconds}
    minutes, rest = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return _("%(minutes)d min %(seconds)02d s") % {"minutes": minutes, "seconds": rest}
    hours, minutes = divmod(minutes, 60)
    return _("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": minutes}
