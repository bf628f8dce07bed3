"""When a campaign should end, from its clusters' usual upgrade durations and their maintenance windows.

The waves are played forward from `now`: the runs going now end at their usual duration after their start (or
now, when overdue); each waiting cluster starts in its wave's order in the earliest of `max_parallel` slots,
moved to its window's next opening when the window would not let it start then; a wave starts when the one
before ends plus the soak time. A cluster whose usual duration is unknown counts as zero, so with no history at
all (for every cluster left) there is no estimate: None, as when nothing is left to do.
"""

from __future__ import annotations

import heapq
from datetime import datetime, timedelta

from upgrades.models import Campaign, CampaignCluster, CampaignWave
from upgrades.models.campaigns import ACTIVE_MEMBER_STATES
from upgrades.services.campaign_policy import cluster_windows, expected_upgrade_seconds, start_window

Member = CampaignCluster.State
# A window that keeps closing on a cluster is looked at this many times before the estimate gives up on it.
MAX_WINDOW_HOPS = 3


def campaign_eta(campaign: Campaign, *, now: datetime) -> datetime | None:
    members = list(
        CampaignCluster.objects.filter(campaign=campaign, state__in=[*ACTIVE_MEMBER_STATES, Member.RUNNING])
        .select_related("cluster")
        .order_by("position")
    )
    if not members:
        return None
    expected = expected_upgrade_seconds(members)
    if all(seconds is None for seconds in expected.values()):
        return None  # no history at all: an estimate of "now" would mislead
    windows = cluster_windows({member.cluster_id for member in members})
    waves = {wave.pk: wave for wave in CampaignWave.objects.filter(campaign=campaign)}
    parallel = max(campaign.max_parallel, 1)
    # The current wave's slots: the runs going now end at their usual duration after their start.
    slots = [
        max((member.started_at or now) + timedelta(seconds=expected.get(member.cluster_id) or 0.0), now)
        for member in members
        if member.state == Member.RUNNING
    ]
    by_wave: dict[int, list[CampaignCluster]] = {}
    for member in members:
        if member.state != Member.RUNNING and member.wave_id is not None:
            by_wave.setdefault(member.wave_id, []).append(member)
    end = max(slots, default=now)
    soak = timedelta(minutes=campaign.soak_minutes)
    finished = [wave.finished_at for wave in waves.values() if wave.finished_at is not None]
    soaked = max(finished) + soak if finished else now
    for wave_id in sorted(by_wave, key=lambda pk: waves[pk].number):
        if waves[wave_id].started_at is None:
            floor = end + soak if slots else max(soaked, now)
            slots = []
        else:
            floor = now
        slots += [floor] * (parallel - len(slots))
        heapq.heapify(slots)
        for member in by_wave[wave_id]:
            seconds = expected.get(member.cluster_id) or 0.0
            start = _window_start(member, max(heapq.heappop(slots), floor), seconds, windows[member.cluster_id])
            heapq.heappush(slots, start + timedelta(seconds=seconds))
        end = max(slots)
    return end


def _window_start(member: CampaignCluster, start: datetime, seconds: float, windows: list) -> datetime:
    for _hop in range(MAX_WINDOW_HOPS):
        decision = start_window(member.cluster, now=start, expected_seconds=seconds, windows=windows)
        if decision.allowed or decision.next_opening is None or decision.next_opening <= start:
            return start
        start = decision.next_opening
    return start
