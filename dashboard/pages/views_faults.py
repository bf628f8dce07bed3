"""Fault drills from the cluster page and the run page (the partial pages/_faults.html): an admin arms a fault on
a simulated cluster's stage, or disarms one. Plain forms with CSRF; the answer is a redirect back to the page the
form was on, with a message saying what happened."""

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.http import require_POST

from dashboard.pages.access import role_required
from upgrades.audit import REASON_MAX_LENGTH, Actor, source_address
from upgrades.errors import ObshellError
from upgrades.models import Cluster, Fault, Server
from upgrades.services.faults import KIND_LABELS, fault_arm, fault_disarm

MAX_TIMES = 20


class FaultArmForm(forms.Form):
    node = forms.CharField(max_length=128)
    server = forms.TypedChoiceField(coerce=int, empty_value=None, required=False)
    kind = forms.ChoiceField(choices=Fault.Kind.choices)
    times = forms.IntegerField(min_value=1, max_value=MAX_TIMES, initial=1)
    reason = forms.CharField(max_length=REASON_MAX_LENGTH)

    def __init__(self, *args, cluster, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["server"].choices = [("", gettext_lazy("every server"))] + [
            (pk, "") for pk in Server.objects.filter(cluster=cluster).values_list("pk", flat=True)
        ]


FIELD_NAMES = {
    "node": gettext_lazy("a stage"),
    "server": gettext_lazy("a server of this cluster"),
    "kind": gettext_lazy("a kind"),
    "times": gettext_lazy("a count"),
}


def _back(request, cluster, anchor=""):
    """Back to the page the form was on. A refusal lands at the top, where its message is; a success at the
    panel (or the fault just armed), since the run page's panel is far below its message."""
    target = request.POST.get("next", "")
    if not (target.startswith("/") and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})):
        target = f"/clusters/{cluster.name}/"
    target = target.split("#", 1)[0]
    return redirect(f"{target}#{anchor}" if anchor else target)


def describe(fault_or_detail):
    """'Fail ×2 at “Stop zone2” on 10.0.0.2:2886' for a Fault or an audit detail dict."""
    if isinstance(fault_or_detail, Fault):
        kind, node = fault_or_detail.kind, fault_or_detail.node_name
        times, server = fault_or_detail.times_remaining, str(fault_or_detail.server or "")
    else:
        kind, node = fault_or_detail["kind"], fault_or_detail["node"]
        times, server = fault_or_detail.get("times_remaining", 1), fault_or_detail.get("server", "")
    where = gettext("on %(server)s") % {"server": server} if server else gettext("on every server of the stage")
    names = {"kind": KIND_LABELS.get(kind, kind), "times": times, "stage": node, "where": where}
    return gettext("%(kind)s ×%(times)s at “%(stage)s” %(where)s") % names


@require_POST
@role_required("admin")
def fault_arm_view(request, name):
    cluster = get_object_or_404(Cluster, name=name)
    form = FaultArmForm(request.POST, cluster=cluster)
    actor = Actor.for_user(request.user, source_address=source_address(request))
    if not form.is_valid():
        if "reason" in form.errors:
            problem = gettext("Say why you arm this fault: the reason is kept in the audit log.")
        else:
            wrong = [str(FIELD_NAMES.get(field, field)) for field in form.errors]
            problem = gettext("Nothing was armed: choose %(fields)s.") % {"fields": ", ".join(wrong)}
        messages.error(request, problem)
        return _back(request, cluster)
    data = form.cleaned_data
    server = Server.objects.filter(pk=data["server"], cluster=cluster).first() if data["server"] else None
    try:
        fault = fault_arm(
            cluster=cluster,
            node_name=data["node"],
            kind=data["kind"],
            times=data["times"],
            server=server,
            actor=actor,
            reason=data["reason"],
        )
    except ObshellError as error:
        messages.error(request, gettext("Nothing was armed: %(error)s") % {"error": error.message})
        return _back(request, cluster)
    messages.success(
        request,
        gettext(
            "Armed on %(cluster)s: %(fault)s. The next run that reaches this stage meets it "
            "(a retry counts as reaching it again); disarm it under Fault drills."
        )
        % {"cluster": cluster.name, "fault": describe(fault)},
    )
    return _back(request, cluster, f"fault-{fault.pk}")


@require_POST
@role_required("admin")
def fault_disarm_view(request, name, fault_id):
    cluster = get_object_or_404(Cluster, name=name)
    actor = Actor.for_user(request.user, source_address=source_address(request))
    try:
        detail = fault_disarm(cluster=cluster, fault_id=fault_id, actor=actor, reason=request.POST.get("reason", ""))
    except ObshellError as error:
        messages.error(request, gettext("Nothing to disarm: %(error)s.") % {"error": error.message})
        return _back(request, cluster)
    messages.success(
        request, gettext("Disarmed on %(cluster)s: %(fault)s.") % {"cluster": cluster.name, "fault": describe(detail)}
    )
    return _back(request, cluster, "faults")
