"""Forms of the pages. Each validates the request's shape only; services enforce the domain rules."""

import hashlib

from django import forms

from upgrades.models import Package, Server
from upgrades.planning.versions import build_version_key, join_build_version, split_server_build

MODE_CHOICES = [("ROLLING", "Rolling (recommended)"), ("STOPSERVICE", "Stop service")]


def upgrade_targets(cluster):
    """Packages of the edition's target name that are newer than every build the cluster runs, newest first."""
    builds = [split_server_build(b) for b in Server.objects.filter(cluster=cluster).values_list("build_version", flat=True)]
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
    package = forms.TypedChoiceField(label="Target package", coerce=int, empty_value=None)
    mode = forms.ChoiceField(label="Mode", choices=MODE_CHOICES, widget=forms.RadioSelect)
    upgrade_dir = forms.CharField(
        label="Upgrade directory",
        required=False,
        max_length=512,
        help_text="Where agents unpack the packages. Empty: obshell's default under the agent's home.",
    )
    freeze_server = forms.BooleanField(
        label="Minor freeze before stopping servers", required=False, help_text="Adds a freeze stage before each restart."
    )
    reason = forms.CharField(
        label="Reason",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "e.g. CHG-1234: apply 4.3.0.1 bug fixes"}),
        help_text="Required to start: it goes into the run and the audit log.",
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
    file = forms.FileField(label="RPM file", widget=forms.ClearableFileInput(attrs={"accept": ".rpm"}))


class TokenCreateForm(forms.Form):
    label = forms.CharField(label="Label", max_length=100, help_text="Who or what uses it, e.g. ci-pipeline.")
