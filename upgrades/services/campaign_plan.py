"""Which clusters a campaign would touch and how: the filter resolved to clusters, each cluster's target (its
edition's), its mode (rolling where it can, else stopService only with downtime allowed), whether it is already
on the target, and the waves (a canary first, then waves of at most N). Reads only: the new-campaign form's
preview and campaign_create (upgrades/services/campaigns.py) use the same answer."""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from upgrades.models import Cluster, Server
from upgrades.models.dag import Dag
from upgrades.services.campaign_policy import LabelFilterError, clusters_with_label

FILTER_KEYS = ("clusters", "edition", "build", "name_pattern", "label")


class CampaignRefused(Exception):
    """A campaign action that is not allowed now (its state, a role, bad input); the message says why."""


@dataclass(frozen=True)
class MemberPlan:
    cluster: Cluster
    version: str = ""
    release: str = ""
    mode: str = ""
    # Why the cluster is left out at creation ("" when it takes part), and whether that is being on the target.
    left_out: str = ""
    on_target: bool = False


@dataclass
class CampaignPlan:
    members: list[MemberPlan] = field(default_factory=list)
    waves: list[list[MemberPlan]] = field(default_factory=list)

    @property
    def left_out(self) -> list[MemberPlan]:
        return [member for member in self.members if member.left_out]

    @property
    def taking_part(self) -> list[MemberPlan]:
        return [member for member in self.members if not member.left_out]


def normalized_filter(raw: dict) -> dict:
    """The filter as stored: known keys only, blanks dropped, cluster names as a list."""
    cleaned: dict = {}
    for key in FILTER_KEYS:
        value = raw.get(key)
        if key == "clusters":
            names = [str(name).strip() for name in (value or []) if str(name).strip()]
            if names:
                cleaned[key] = list(dict.fromkeys(names))
        elif value not in (None, ""):
            cleaned[key] = str(value).strip()
    return cleaned


def build_version_of(text: str) -> str:
    """ "4.2.1.0-100000102023092807" or "4.2.1.0_100000102023092807" as servers report it (version_build)."""
    version, _sep, build = text.strip().replace("_", "-").partition("-")
    return f"{version}_{build.split('.')[0]}" if build else version


def resolve_clusters(cluster_filter: dict) -> list[Cluster]:
    """The clusters a filter picks, in the order given (picked names) or by name."""
    flt = normalized_filter(cluster_filter)
    queryset = Cluster.objects.all()
    if flt.get("clusters"):
        queryset = queryset.filter(name__in=flt["clusters"])
    if flt.get("edition"):
        queryset = queryset.filter(edition=flt["edition"])
    if flt.get("build"):
        wanted = build_version_of(flt["build"])
        field_name = "servers__build_version" if "_" in wanted else "servers__build_version__startswith"
        queryset = queryset.filter(**{field_name: wanted if "_" in wanted else wanted + "_"})
    if flt.get("label"):
        try:
            queryset = clusters_with_label(queryset, flt["label"])
        except LabelFilterError as error:
            raise CampaignRefused(str(error)) from None
    clusters = list(queryset.distinct().order_by("name"))
    if flt.get("name_pattern"):
        pattern = flt["name_pattern"]
        clusters = [cluster for cluster in clusters if fnmatch.fnmatchcase(cluster.name, pattern)]
    if flt.get("clusters"):
        order = {name: i for i, name in enumerate(flt["clusters"])}
        clusters.sort(key=lambda cluster: order[cluster.name])
    return clusters


def target_build_version(version: str, release: str) -> str:
    return f"{version}_{release.split('.')[0]}"


def on_target(builds: set[str], version: str, release: str) -> bool:
    """Every server runs the target build."""
    return bool(builds) and builds == {target_build_version(version, release)}


def rolling_possible(zones: int, shared_storage: bool) -> bool:
    """obshell's rule (spec 4): rolling needs 3 zones, 2 on shared storage."""
    return zones >= (2 if shared_storage else 3)


def cluster_facts(clusters: Sequence[Cluster]) -> tuple[dict[int, set[str]], dict[int, int]]:
    """({cluster id: its servers' builds}, {cluster id: its zone count}) in two queries."""
    ids = [cluster.pk for cluster in clusters]
    builds: dict[int, set[str]] = defaultdict(set)
    zones: dict[int, set[int]] = defaultdict(set)
    for cluster_id, zone_id, build in Server.objects.filter(cluster_id__in=ids).values_list(
        "cluster_id", "zone_id", "build_version"
    ):
        builds[cluster_id].add(build)
        zones[cluster_id].add(zone_id)
    return builds, {cluster_id: len(zone_ids) for cluster_id, zone_ids in zones.items()}


def member_plan(cluster: Cluster, *, targets: dict, allow_downtime: bool, builds: set[str], zones: int) -> MemberPlan:
    target = targets.get(cluster.edition)
    if not target:
        return MemberPlan(cluster, left_out=_("no target for the %(edition)s edition") % {"edition": cluster.edition})
    version, release = target["version"], target["release"]
    if on_target(builds, version, release):
        return MemberPlan(cluster, version, release, left_out=_("already on the target"), on_target=True)
    if rolling_possible(zones, cluster.shared_storage):
        mode = Dag.Mode.ROLLING
    elif allow_downtime:
        mode = Dag.Mode.STOPSERVICE
    else:
        return MemberPlan(
            cluster,
            version,
            release,
            left_out=_("rolling needs 3 zones (2 on shared storage) and the campaign allows no downtime"),
        )
    return MemberPlan(cluster, version, release, str(mode))


def plan_campaign(
    *,
    cluster_filter: dict,
    targets: dict,
    allow_downtime: bool,
    canary: Sequence[str] = (),
    canary_size: int = 1,
    wave_size: int,
) -> CampaignPlan:
    """Resolve the filter and split the clusters that take part into waves: the canary wave (the named
    clusters, else the first `canary_size`), then waves of at most `wave_size`."""
    if wave_size < 1:
        raise CampaignRefused(_("A wave needs at least one cluster."))
    clusters = resolve_clusters(cluster_filter)
    builds, zones = cluster_facts(clusters)
    plan = CampaignPlan()
    for cluster in clusters:
        plan.members.append(
            member_plan(
                cluster,
                targets=targets,
                allow_downtime=allow_downtime,
                builds=builds.get(cluster.pk, set()),
                zones=zones.get(cluster.pk, 0),
            )
        )
    taking = plan.taking_part
    if not taking:
        return plan
    named = set(canary)
    unknown = named - {member.cluster.name for member in taking}
    if unknown:
        raise CampaignRefused(
            _("Canary clusters not among the clusters to upgrade: %(names)s") % {"names": ", ".join(sorted(unknown))}
        )
    first = [member for member in taking if member.cluster.name in named] if named else taking[: max(canary_size, 1)]
    first_ids = {member.cluster.pk for member in first}
    rest = [member for member in taking if member.cluster.pk not in first_ids]
    plan.waves = [first] + [rest[i : i + wave_size] for i in range(0, len(rest), wave_size)]
    return plan
