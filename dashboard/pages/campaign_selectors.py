"""Reads for the campaign pages: the list, and one campaign's waves by cluster, counts, ETA and audit."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from django.db.models import Count, Q

from upgrades.models import AuditEntry, Campaign, CampaignCluster, CampaignWave
from upgrades.models.campaigns import ACTIVE_MEMBER_STATES, DONE_MEMBER_STATES

Member = CampaignCluster.State
AUDIT_ROWS = 50

# Each cell shows its state as an icon, a word and a colour (never the colour alone).
MEMBER_ICONS = {
    Member.PENDING: "○",
    Member.WAITING_WINDOW: "◷",
    Member.RUNNING: "▶",
    Member.SUCCEEDED: "✓",
    Member.FAILED: "✕",
    Member.SKIPPED: "⤼",
    Member.ALREADY_ON_TARGET: "≡",
}
CAMPAIGN_ICONS = {
    Campaign.State.DRAFT: "✎",
    Campaign.State.AWAITING_APPROVAL: "⚑",
    Campaign.State.SCHEDULED: "◷",
    Campaign.State.RUNNING: "▶",
    Campaign.State.PAUSED: "⏸",
    Campaign.State.SUCCEEDED: "✓",
    Campaign.State.ABORTED: "⊘",
    Campaign.State.FAILED: "✕",
}


def campaign_rows() -> list[Campaign]:
    """Every campaign with its member counts (done, failed, total taking part)."""
    return list(
        Campaign.objects.annotate(
            total=Count("members", filter=Q(members__wave__isnull=False)),
            done=Count("members", filter=Q(members__wave__isnull=False, members__state__in=DONE_MEMBER_STATES)),
            failed=Count("members", filter=Q(members__state=Member.FAILED)),
            running=Count("members", filter=Q(members__state=Member.RUNNING)),
        ).select_related("created_by")
    )


def campaign_audit(campaign: Campaign) -> list[AuditEntry]:
    return list(
        AuditEntry.objects.filter(action__startswith="campaign.", detail__campaign=campaign.pk).order_by("-at", "-id")[
            :AUDIT_ROWS
        ]
    )


def _wave_status(wave: CampaignWave, members: list[CampaignCluster], soak: timedelta, previous) -> dict[str, Any]:
    states = Counter(member.state for member in members)
    if wave.finished_at is not None:
        word = "done"
    elif wave.started_at is not None:
        word = "running"
    elif previous is not None and previous.finished_at is not None and soak:
        word = "soaking"
    else:
        word = "pending"
    return {
        "word": word,
        "soak_until": previous.finished_at + soak
        if word == "soaking" and previous is not None and previous.finished_at
        else None,
        "counts": dict(states),
    }


class MemberCell:
    """A campaign member as its page shows it. Read as values: a large campaign has hundreds of members, and a
    model instance each (and one for its cluster) cost more than the rest of the page."""

    __slots__ = ("cluster", "dag_id", "icon", "id", "reason", "state", "wave_id")

    def __init__(self, pk, state, reason, wave_id, dag_id, cluster_name, cluster_edition):
        self.id, self.state, self.reason, self.wave_id, self.dag_id = pk, state, reason, wave_id, dag_id
        self.cluster = SimpleNamespace(name=cluster_name, edition=cluster_edition)
        self.icon = MEMBER_ICONS.get(state, "•")

    def get_state_display(self):
        return Member(self.state).label if self.state in Member.values else self.state


def campaign_page(campaign: Campaign) -> dict[str, Any]:
    members = [
        MemberCell(*values)
        for values in CampaignCluster.objects.filter(campaign=campaign)
        .order_by("position")
        .values_list("id", "state", "reason", "wave_id", "dag_id", "cluster__name", "cluster__edition")
    ]
    by_wave: dict[int, list[MemberCell]] = {}
    left_out = []
    for member in members:
        if member.wave_id is None:
            left_out.append(member)
        else:
            by_wave.setdefault(member.wave_id, []).append(member)
    soak = timedelta(minutes=campaign.soak_minutes)
    waves = []
    previous = None
    for wave in CampaignWave.objects.filter(campaign=campaign).order_by("number"):
        wave_members = by_wave.get(wave.pk, [])
        waves.append({"wave": wave, "members": wave_members, **_wave_status(wave, wave_members, soak, previous)})
        previous = wave
    counts = Counter(member.state for member in members if member.wave_id is not None)
    skippable = [member for member in members if member.state in {*ACTIVE_MEMBER_STATES, Member.FAILED}]
    return {
        "campaign": campaign,
        "campaign_icon": CAMPAIGN_ICONS.get(campaign.state, "•"),
        "waves": waves,
        "left_out": left_out,
        "counts": dict(counts),
        "total": sum(counts.values()),
        "done": sum(n for state, n in counts.items() if state in DONE_MEMBER_STATES),
        "skippable": skippable,
        "audit": campaign_audit(campaign),
        "member_states": [(value, label, MEMBER_ICONS[value]) for value, label in Member.choices],
    }
