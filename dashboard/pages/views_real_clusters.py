"""Real clusters on the pages: registering one by its agents (with a "Test connection" step), refreshing it,
storing a new password and confirming a changed agent key. Passwords arrive in POST bodies only and are never
rendered back."""

from django import forms
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from dashboard.pages.access import role_required
from upgrades.audit import Actor, source_address
from upgrades.errors import ObshellError
from upgrades.models import Cluster
from upgrades.models.cluster import Edition
from upgrades.services.real_clusters import (
    agent_key_confirm,
    cluster_refresh,
    cluster_register_obshell,
    cluster_set_password,
    probe_agents,
)


class RegisterClusterForm(forms.Form):
    name = forms.SlugField(label=_("Name"), max_length=64, help_text=_("How the dashboard calls it, e.g. prod-hz-1."))
    agents = forms.CharField(
        label=_("Agent addresses"),
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "10.0.0.1:2886\n10.0.0.2:2886"}),
        help_text=_("HOST:PORT of obshell agents, one per line: the next is dialled when the first does not answer."),
    )
    password = forms.CharField(
        label=_("root@sys password"), strip=False, required=False, widget=forms.PasswordInput(render_value=False)
    )
    agent_password = forms.CharField(
        label=_("Agent password (if set)"), strip=False, required=False, widget=forms.PasswordInput(render_value=False)
    )
    edition = forms.ChoiceField(
        label=_("Edition"),
        required=False,
        choices=[("", _("From the agent (4.3.0 and later)"))] + [(e, e) for e in Edition.values],
    )

    def addresses(self):
        return [line.strip() for line in self.cleaned_data["agents"].splitlines() if line.strip()]


class PasswordForm(forms.Form):
    password = forms.CharField(label=_("New root@sys password"), strip=False, widget=forms.PasswordInput)


def _actor(request):
    return Actor.for_user(request.user, source_address=source_address(request))


@role_required("admin")
def register_cluster(request):
    form = RegisterClusterForm(request.POST or None)
    found = error = None
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if request.POST.get("action") == "register":
                cluster = cluster_register_obshell(
                    name=data["name"],
                    addresses=form.addresses(),
                    password=data["password"],
                    agent_password=data["agent_password"],
                    edition=data["edition"] or None,
                    actor=_actor(request),
                )
                messages.success(
                    request,
                    gettext("Cluster %(name)s registered: %(n)s servers.")
                    % {"name": cluster.name, "n": cluster.servers.count()},
                )
                return redirect("cluster", name=cluster.name)
            found = probe_agents(
                addresses=form.addresses(), password=data["password"], agent_password=data["agent_password"]
            )
        except ObshellError as exc:
            error = exc.message
    status = 400 if error or (request.method == "POST" and not form.is_valid()) else 200
    return render(request, "pages/register_cluster.html", {"form": form, "found": found, "error": error}, status=status)


@require_POST
@role_required("operator")
def cluster_refresh_view(request, name):
    cluster = get_object_or_404(Cluster, name=name)
    messages.info(request, cluster_refresh(cluster=cluster))
    return redirect("cluster", name=cluster.name)


@require_POST
@role_required("admin")
def cluster_password_view(request, name):
    cluster = get_object_or_404(Cluster, name=name)
    form = PasswordForm(request.POST)
    if form.is_valid():
        try:
            cluster_set_password(cluster=cluster, password=form.cleaned_data["password"], actor=_actor(request))
            messages.success(
                request,
                gettext("%(name)s: the agent accepted the new password; it is stored.") % {"name": cluster.name},
            )
        except ObshellError as exc:
            messages.error(
                request,
                gettext("%(name)s: %(error)s. Nothing was stored.") % {"name": cluster.name, "error": exc.message},
            )
    return redirect("cluster", name=cluster.name)


@require_POST
@role_required("admin")
def cluster_key_confirm_view(request, name):
    cluster = get_object_or_404(Cluster, name=name)
    try:
        agent_key_confirm(cluster=cluster, actor=_actor(request), reason=request.POST.get("reason", ""))
        messages.success(
            request, gettext("%(name)s: the agent's new key is trusted; traffic resumes.") % {"name": cluster.name}
        )
    except ObshellError as exc:
        messages.error(request, exc.message)
    return redirect("cluster", name=cluster.name)
