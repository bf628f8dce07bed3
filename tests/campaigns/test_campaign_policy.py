"""Campaigns under the fleet's policies, with a frozen clock: a cluster outside its maintenance window waits,
one whose usual upgrade duration would run past its window's end is not started, and both start when a window
lets them; the ETA follows the windows. Campaigns over production clusters need a second person's approval,
refused to the creator."""

from datetime import timedelta

import pytest
from django.test import Client

from tests.campaigns.helpers import FROZEN, TARGETS, create, drive, make_fleet
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.factories import make_user
from tests.support.history import done, finished_run
from upgrades.audit import Actor
from upgrades.models import Approval, AuditEntry, Campaign, CampaignCluster, Dag
from upgrades.operations.durations import refresh_step_durations
from upgrades.planning.plan import plan_upgrade
from upgrades.services.campaign_plan import CampaignRefused
from upgrades.services.campaign_scheduler import advance_campaigns
from upgrades.services.campaigns import campaign_approve, campaign_start
from upgrades.services.labels import label_set
from upgrades.services.windows import window_add

pytestmark = pytest.mark.django_db

Member = CampaignCluster.State
ADMIN = Actor.system("test")
TWO_HOURS = 2 * 3600


def usual_upgrade_of_two_hours(cluster):
    """History in which every stage of this cluster's upgrade took its share of two hours (five samples each)."""
    actions = [node.action for node in plan_upgrade(cluster=cluster, **TARGETS["community"], mode="ROLLING").nodes]
    for _ in range(5):
        finished_run(cluster, servers=3, steps=[done(action, TWO_HOURS / len(actions)) for action in actions])
    refresh_step_durations()


def test_windows_with_a_frozen_clock():
    canary, outside, too_short = make_fleet(3)  # c01, c02, c03
    usual_upgrade_of_two_hours(canary)
    window_add(cluster=canary, window="daily 01:00-05:00 UTC", actor=ADMIN)
    window_add(cluster=outside, window="daily 06:00-08:00 UTC", actor=ADMIN)
    window_add(cluster=too_short, window="daily 01:00-03:00 UTC", actor=ADMIN)
    campaign = create([canary, outside, too_short], wave_size=2, max_parallel=2)
    campaign_start(campaign=campaign, actor=Actor.for_user(campaign.created_by), now=FROZEN)

    advance_campaigns(now=FROZEN)  # Tuesday 02:00 UTC: the canary's window is open and 2 h fit
    campaign.refresh_from_db()
    members = {m.cluster_id: m for m in CampaignCluster.objects.filter(campaign=campaign)}
    assert members[canary.pk].state == Member.RUNNING
    # The ETA plays the windows forward: the canary ends at 04:00, c02 waits for 06:00 (ends 08:00), c03 for
    # tomorrow's 01:00 (its window closes at 03:00: today 2 h do not fit after 04:00).
    assert campaign.eta == FROZEN.replace(day=2, hour=3)

    campaign = drive(campaign, now=FROZEN)
    members = {m.cluster_id: m for m in CampaignCluster.objects.filter(campaign=campaign)}
    assert campaign.state == Campaign.State.RUNNING
    assert members[canary.pk].state == Member.SUCCEEDED
    assert members[outside.pk].state == Member.WAITING_WINDOW and "06:00" in members[outside.pk].reason
    assert members[too_short.pk].state == Member.WAITING_WINDOW
    assert not Dag.objects.filter(cluster__in=[outside, too_short]).exists()

    campaign = drive(campaign, now=FROZEN.replace(hour=6))  # c02's window opens; c03's is closed
    members = {m.cluster_id: m for m in CampaignCluster.objects.filter(campaign=campaign)}
    assert members[outside.pk].state == Member.SUCCEEDED
    assert members[too_short.pk].state == Member.WAITING_WINDOW
    campaign = drive(campaign, now=FROZEN.replace(day=2, hour=2))  # 02:00 + 2 h is past 03:00: still not
    assert CampaignCluster.objects.get(campaign=campaign, cluster=too_short).state == Member.WAITING_WINDOW
    campaign = drive(campaign, now=FROZEN.replace(day=2, hour=1))  # 01:00 + 2 h fits exactly
    assert campaign.state == Campaign.State.SUCCEEDED
    assert CampaignCluster.objects.get(campaign=campaign, cluster=too_short).state == Member.SUCCEEDED


def test_a_cluster_without_history_starts_anywhere_inside_its_window():
    (cluster,) = make_fleet(1)
    window_add(cluster=cluster, window="daily 01:00-03:00 UTC", actor=ADMIN)
    campaign = create([cluster])
    campaign_start(campaign=campaign, actor=Actor.for_user(campaign.created_by), now=FROZEN)
    campaign = drive(campaign, now=FROZEN - timedelta(hours=2))  # 00:00: closed
    assert CampaignCluster.objects.get(campaign=campaign).state == Member.WAITING_WINDOW
    assert campaign.eta is None  # no usual duration anywhere: no estimate
    campaign = drive(campaign, now=FROZEN)
    assert campaign.state == Campaign.State.SUCCEEDED


def test_production_needs_a_second_person_and_refuses_the_creator():
    clusters = make_fleet(2)
    label_set(cluster=clusters[0], key="env", value="prod", actor=Actor.for_user(make_user("admin")))
    creator = make_user("operator")
    campaign = create(clusters, actor=Actor.for_user(creator))
    assert campaign.state == Campaign.State.AWAITING_APPROVAL and campaign.needs_approval

    with pytest.raises(CampaignRefused, match="second person must approve"):
        campaign_start(campaign=campaign, actor=Actor.for_user(creator), now=FROZEN)
    with pytest.raises(CampaignRefused, match="yourself"):
        campaign_approve(campaign=campaign, actor=Actor.for_user(creator), reason="looks fine to me")
    with pytest.raises(CampaignRefused):
        campaign_approve(campaign=campaign, actor=Actor.for_user(make_user("viewer")))
    assert not Approval.objects.exists()
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.AWAITING_APPROVAL

    # The page offers the creator no Approve button; another operator approves from it.
    client = Client()
    client.force_login(creator)
    assert 'value="approve"' not in client.get(f"/campaigns/{campaign.pk}/").content.decode()
    second = make_user("operator")
    client.force_login(second)
    assert 'value="approve"' in client.get(f"/campaigns/{campaign.pk}/").content.decode()
    client.post(f"/campaigns/{campaign.pk}/act/", {"action": "approve", "reason": "CAB-77 approved"})
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.DRAFT
    approval = Approval.objects.get(subject_type="campaign", subject_id=campaign.pk)
    assert approval.decided_by == second and approval.requested_by == creator

    entries = AuditEntry.objects.filter(action=AuditEntry.Action.CAMPAIGN_APPROVE).order_by("id")
    assert [(e.outcome, e.actor_user) for e in entries] == [
        ("refused", creator),
        ("refused", entries[1].actor_user),
        ("ok", second),
    ]
    assert entries[2].reason == "CAB-77 approved" and entries[2].detail["campaign"] == campaign.pk

    campaign = campaign_start(campaign=campaign, actor=Actor.for_user(creator), now=FROZEN)
    assert drive(campaign).state == Campaign.State.SUCCEEDED
    assert Dag.objects.filter(to_version__startswith=TARGET.version).count() == 2
