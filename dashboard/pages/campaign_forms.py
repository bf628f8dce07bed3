"""The new-campaign form and the campaign page's action form. They check the request's shape; the services
(upgrades/services/campaigns.py) enforce the rules."""

from django import forms
from django.utils.translation import gettext_lazy as _

from upgrades.audit import REASON_MAX_LENGTH
from upgrades.models import Cluster, Package
from upgrades.models.cluster import TARGET_PACKAGE, Edition


def _number(label, initial, help_text="", minimum=1):
    return forms.IntegerField(label=label, initial=initial, min_value=minimum, max_value=10_000, help_text=help_text)


class CampaignForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    allow_downtime = forms.BooleanField(
        label=_("Allow downtime"),
        required=False,
        help_text=_(
            "Clusters that cannot upgrade rolling (fewer than 3 zones) upgrade with stop service; else skipped."
        ),
    )
    clusters = forms.MultipleChoiceField(
        label=_("Clusters"), required=False, help_text=_("Pick clusters, or leave empty and filter below.")
    )
    edition = forms.ChoiceField(label=_("Edition"), required=False)
    build = forms.CharField(
        label=_("Current build"), required=False, max_length=100, help_text=_("e.g. 4.2.1.0-100000102023092807")
    )
    name_pattern = forms.CharField(label=_("Name pattern"), required=False, max_length=100, help_text=_("e.g. prod-*"))
    label = forms.CharField(label=_("Label"), required=False, max_length=200, help_text=_("e.g. env=prod"))
    canary = forms.CharField(
        label=_("Canary clusters"),
        required=False,
        max_length=1000,
        help_text=_("Names, comma-separated; empty: the first cluster(s)."),
    )
    canary_size = _number(_("Canary size"), 1, _("Used when no canary is named."))
    wave_size = _number(_("Clusters per wave"), 4)
    max_parallel = _number(_("Runs at once"), 2)
    soak_minutes = _number(_("Soak minutes between waves"), 0, minimum=0)
    failure_threshold = _number(_("Pause after this many failures"), 1, _("1: pause on the first failure."))
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "e.g. CHG-1234: 4.3.0.1 across the fleet"}),
        help_text=_("Kept with the campaign, each of its runs and the audit log."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clusters"].choices = [(name, name) for name in Cluster.objects.values_list("name", flat=True)]
        self.fields["edition"].choices = [("", _("Any edition"))] + list(Edition.choices)
        for edition, package_name in TARGET_PACKAGE.items():
            packages = Package.objects.filter(name=package_name).order_by("-version", "-release")
            choices = [("", _("none"))] + [
                (f"{p.version}|{p.release_distribution}", f"{p.version}-{p.release_distribution}")
                for p in packages.distinct()
            ]
            self.fields[f"target_{edition}"] = forms.ChoiceField(
                label=_("Target for %(edition)s (%(package)s)") % {"edition": edition, "package": package_name},
                required=False,
                choices=list(dict.fromkeys(choices)),
            )

    def target_fields(self):
        return [self[f"target_{edition}"] for edition in TARGET_PACKAGE]

    def clean(self):
        data = super().clean()
        if not self.targets():
            raise forms.ValidationError(_("Choose a target build for at least one edition."))
        return data

    def targets(self):
        targets = {}
        for edition in TARGET_PACKAGE:
            value = self.cleaned_data.get(f"target_{edition}") or ""
            if value:
                version, _sep, release = value.partition("|")
                targets[str(edition)] = {"version": version, "release": release}
        return targets

    def cluster_filter(self):
        data = self.cleaned_data
        return {
            "clusters": data.get("clusters") or [],
            "edition": data.get("edition") or "",
            "build": data.get("build") or "",
            "name_pattern": data.get("name_pattern") or "",
            "label": data.get("label") or "",
        }

    def canary_names(self):
        return [name.strip() for name in (self.cleaned_data.get("canary") or "").split(",") if name.strip()]

    def plan_options(self):
        """What plan_campaign takes (the preview)."""
        data = self.cleaned_data
        return {
            "cluster_filter": self.cluster_filter(),
            "targets": self.targets(),
            "allow_downtime": data["allow_downtime"],
            "canary": self.canary_names(),
            "canary_size": data["canary_size"],
            "wave_size": data["wave_size"],
        }

    def create_options(self):
        """What campaign_create takes."""
        data = self.cleaned_data
        options = self.plan_options()
        options.update(
            name=data["name"],
            max_parallel=data["max_parallel"],
            soak_minutes=data["soak_minutes"],
            failure_threshold=data["failure_threshold"],
            reason=data["reason"].strip(),
        )
        return options


CAMPAIGN_ACTIONS = ("approve", "start", "pause", "resume", "resume_skip", "abort", "skip")
# Actions a person must give a reason for.
REASON_REQUIRED = {"pause", "resume", "resume_skip", "abort", "skip"}


class CampaignActionForm(forms.Form):
    action = forms.ChoiceField(choices=[(action, action) for action in CAMPAIGN_ACTIONS])
    cluster = forms.CharField(required=False, max_length=64)
    reason = forms.CharField(required=False, max_length=REASON_MAX_LENGTH)

    def clean(self):
        data = super().clean()
        if data.get("action") in REASON_REQUIRED and not (data.get("reason") or "").strip():
            raise forms.ValidationError(_("Say why: the reason goes into the audit log."))
        if data.get("action") == "skip" and not data.get("cluster"):
            raise forms.ValidationError(_("Choose the cluster to skip."))
        return data
