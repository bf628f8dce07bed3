"""Forms of the pages. Each validates the request's shape only; services enforce the domain rules."""

import hashlib

from django import forms
from django.utils.translation import gettext_lazy as _

from upgrades.audit import REASON_MAX_LENGTH
from upgrades.models import Package, Server
from upgrades.packages.names import OBSHELL
from upgrades.planning.versions import (
    build_version_key,
    compare_versions_as_obshell,
    join_build_version,
    split_server_build,
    version_sort_key,
)

MODE_CHOICES = [("ROLLING", _("Rolling (recommended)")), ("STOPSERVICE", _("Stop service"))]


def upgrade_targets(cluster):
    """Packages of the edition's target name that are newer than every build the cluster runs, newest first."""
    builds = [
        split_server_build(b) for b in Server.objects.filter(cluster=cluster).values_list("build_version", flat=True)
    ]
    current = max((build_version_key(join_build_version(v, b)) for v, b in builds), default=None)
    candidates = []
    for package in Package.objects.filter(name=cluster.target_package_name):
        try:
            key = build_version_key(package.build_version)
        except ValueError:
            continue
        if current is None or key > current:
            candidates.append((key, package))
    candidates.sort(key=lambda item: (item[0], item[1].pk), reverse=True)
    return [package for _, package in candidates]


def rolling_possible(cluster):
    """obshell's rule (spec 4): rolling needs 3 zones, 2 on shared storage."""
    return cluster.zones.count() >= (2 if cluster.shared_storage else 3)


class UpgradeForm(forms.Form):
    package = forms.TypedChoiceField(label=_("Target package"), coerce=int, empty_value=None)
    mode = forms.ChoiceField(label=_("Mode"), choices=MODE_CHOICES, widget=forms.RadioSelect)
    upgrade_dir = forms.CharField(
        label=_("Upgrade directory"),
        required=False,
        max_length=512,
        help_text=_("Where agents unpack the packages. Empty: obshell's default under the agent's home."),
    )
    freeze_server = forms.BooleanField(
        label=_("Minor freeze before stopping servers"),
        required=False,
        help_text=_("Adds a freeze stage before each restart."),
    )
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": _("e.g. CHG-1234: apply 4.3.0.1 bug fixes")}),
        help_text=_("Required to start: it goes into the run and the audit log."),
    )
    plan_key = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, cluster, **kwargs):
        super().__init__(*args, **kwargs)
        self.cluster = cluster
        self.targets = upgrade_targets(cluster)
        self.fields["package"].choices = [
            (p.pk, f"{p.version}-{p.release_distribution} · {p.arch}") for p in self.targets
        ]
        if not self.is_bound:
            self.initial.setdefault("mode", "ROLLING" if rolling_possible(cluster) else "STOPSERVICE")
            if self.targets:
                self.initial.setdefault("package", self.targets[0].pk)

    @property
    def target_package(self):
        pk = self.cleaned_data.get("package")
        return next((p for p in self.targets if p.pk == pk), None)

    def parameters(self):
        """The upgrade request as plan_upgrade and upgrade_start take it."""
        package = self.target_package
        return {
            "version": package.version,
            "release": package.release_distribution,
            "mode": self.cleaned_data["mode"],
            "upgrade_dir": self.cleaned_data["upgrade_dir"].strip(),
            "freeze_server": self.cleaned_data["freeze_server"],
        }

    def parameters_key(self):
        """A digest of the parameters, carried from the preview to the start so a changed form is re-previewed."""
        params = self.parameters()
        text = "|".join(str(params[k]) for k in sorted(params)) + f"|{self.cluster.pk}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class PackageUploadForm(forms.Form):
    file = forms.FileField(label=_("RPM file"), widget=forms.ClearableFileInput(attrs={"accept": ".rpm"}))


class TokenCreateForm(forms.Form):
    label = forms.CharField(label=_("Label"), max_length=100, help_text=_("Who or what uses it, e.g. ci-pipeline."))


class _DateRangeForm(forms.Form):
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise forms.ValidationError(_("The start date is after the end date."))
        return data


ANY = {
    "cluster": _("Any cluster"),
    "state": _("Any state"),
    "mode": _("Any mode"),
    "action": _("Any action"),
    "outcome": _("Any outcome"),
}


def _choices(label, values):
    return [("", ANY[label])] + [(v, v) for v in values]


def _cluster_field():
    """A cluster's name, typed (with the browser's suggestions from a <datalist id="cluster-names">): a select of a
    thousand-cluster fleet is slow to render and to use."""
    return forms.CharField(
        label=_("Cluster"),
        required=False,
        max_length=64,
        widget=forms.TextInput(attrs={"list": "cluster-names", "autocomplete": "off", "placeholder": _("any cluster")}),
    )


class RunFilterForm(_DateRangeForm):
    cluster = _cluster_field()
    state = forms.ChoiceField(label=_("State"), required=False)
    mode = forms.ChoiceField(label=_("Mode"), required=False)
    actor = forms.CharField(label=_("Who"), required=False, max_length=200)
    holding = forms.BooleanField(required=False, widget=forms.HiddenInput)
    field_order = ["cluster", "state", "mode", "actor", "date_from", "date_to"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from upgrades.models.dag import Dag, State

        self.fields["state"].choices = _choices("state", State.values)
        self.fields["mode"].choices = _choices("mode", Dag.Mode.values)


class AuditFilterForm(_DateRangeForm):
    actor = forms.CharField(label=_("Actor"), required=False, max_length=200)
    action = forms.ChoiceField(label=_("Action"), required=False)
    cluster = _cluster_field()
    outcome = forms.ChoiceField(label=_("Outcome"), required=False)
    field_order = ["actor", "action", "cluster", "outcome", "date_from", "date_to"]

    def __init__(self, *args, actions=(), **kwargs):
        super().__init__(*args, **kwargs)
        from upgrades.models import AuditEntry

        self.fields["action"].choices = _choices("action", actions)
        self.fields["outcome"].choices = _choices("outcome", AuditEntry.Outcome.values)


def agent_upgrade_targets(cluster):
    """obshell rpms newer than the cluster agent's obshell (obshell's own lenient comparison), newest first."""
    agent = cluster.agent_server()
    current = agent.agent_version if agent is not None else ""
    newer = [
        p for p in Package.objects.filter(name=OBSHELL) if compare_versions_as_obshell(p.build_version, current) > 0
    ]
    newest_first = sorted(newer, key=lambda p: p.pk, reverse=True)
    return sorted(newest_first, key=lambda p: build_version_key_lenient(p.build_version), reverse=True)


def build_version_key_lenient(build_version):
    version, _, build = build_version.partition("-")
    return version_sort_key(version), int(build) if build.isdigit() else 0


class AgentUpgradeForm(forms.Form):
    """Upgrade obshell (POST /api/v1/agent/upgrade): the obshell rpm, the upgrade directory and the reason."""

    obshell_package = forms.TypedChoiceField(label=_("obshell package"), coerce=int, empty_value=None)
    upgrade_dir = forms.CharField(
        label=_("Upgrade directory"),
        required=False,
        max_length=512,
        help_text=_("Where agents unpack the rpm. Empty: obshell's default under the agent's home."),
    )
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": _("e.g. CHG-1235: obshell fixes")}),
        help_text=_("Required to start: it goes into the run and the audit log."),
    )
    plan_key = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, cluster, **kwargs):
        kwargs.setdefault("prefix", "obshell")  # its fields must not collide with the OB upgrade form's
        super().__init__(*args, **kwargs)
        self.cluster = cluster
        self.targets = agent_upgrade_targets(cluster)
        self.fields["obshell_package"].choices = [
            (p.pk, f"{p.version}-{p.release_distribution} · {p.arch}") for p in self.targets
        ]
        if not self.is_bound and self.targets:
            self.initial.setdefault("obshell_package", self.targets[0].pk)

    def parameters(self):
        """The request as plan_agent_upgrade and agent_upgrade_start take it."""
        pk = self.cleaned_data.get("obshell_package")
        package = next(p for p in self.targets if p.pk == pk)
        return {
            "version": package.version,
            "release": package.release_distribution,
            "upgrade_dir": self.cleaned_data["upgrade_dir"].strip(),
        }

    def parameters_key(self):
        params = self.parameters()
        text = "obshell|" + "|".join(str(params[k]) for k in sorted(params)) + f"|{self.cluster.pk}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


FLEET_STATE_LABELS = {
    "running": _("running"),
    "held": _("held by a failed run"),
    "failed": _("last run failed"),
    "unreachable": _("unreachable"),
    "upgradable": _("upgradable"),
    "up_to_date": _("up to date"),
}
FLEET_SORT_LABELS = {
    "name": _("name"),
    "build": _("build"),
    "state": _("state"),
    "last_run": _("last run"),
}


class FleetFilterForm(forms.Form):
    """The fleet page's search, filters and order. A field that does not validate is left out of the query (and
    said so above the list), never a server error."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": _("name or build")}),
    )
    edition = forms.ChoiceField(label=_("Edition"), required=False)
    state = forms.ChoiceField(label=_("State"), required=False)
    label = forms.CharField(
        label=_("Label"),
        required=False,
        max_length=200,
        help_text=_("key=value, key!=value or key; several joined by commas"),
        widget=forms.TextInput(attrs={"placeholder": "env=prod"}),
    )
    sort = forms.ChoiceField(label=_("Sort by"), required=False)
    field_order = ["q", "edition", "state", "label", "sort"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from upgrades.models.cluster import Edition

        self.fields["edition"].choices = [("", _("Any edition"))] + [(e, e) for e in Edition.values]
        self.fields["state"].choices = [("", _("Any state"))] + list(FLEET_STATE_LABELS.items())
        self.fields["sort"].choices = [
            (f"{prefix}{key}", f"{label} {arrow}")
            for key, label in FLEET_SORT_LABELS.items()
            for prefix, arrow in (("", "↑"), ("-", "↓"))
        ]

    def clean_label(self):
        from upgrades.selectors.labels import LabelFilterError, parse_label_selector

        text = self.cleaned_data["label"].strip()
        if text:
            try:
                parse_label_selector(text)
            except LabelFilterError as error:
                raise forms.ValidationError(str(error)) from error
        return text

    def valid_data(self):
        """The fields that validated (the others dropped); the form must have been bound."""
        self.is_valid()
        return {name: value for name, value in self.cleaned_data.items() if name not in self.errors and value}
