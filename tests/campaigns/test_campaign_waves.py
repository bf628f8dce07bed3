"""A campaign over 12 simulated clusters (zero durations): a canary wave, then waves of at most 4 with at most 2
runs at once. Every cluster's upgrade is an ordinary run; waves go in order; a failure pauses the campaign with
the rest untouched, and a resume that skips the failed cluster finishes it."""

import pytest

from tests.campaigns.helpers import FROZEN, create, drive, make_fleet, states
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from upgrades.audit import Actor
from upgrades.models import AuditEntry, Campaign, CampaignCluster, Dag
from upgrades.models.dag import State as DagState
from upgrades.services.campaigns import campaign_resume, campaign_start
from upgrades.services.faults import fault_arm

pytestmark = pytest.mark.django_db

Member = CampaignCluster.State


def members_by_wave(campaign):
    waves = {}
    for member in CampaignCluster.objects.filter(campaign=campaign, wave__isnull=False).select_related("wave", "dag"):
        waves.setdefault(member.wave.number, []).append(member)
    return dict(sorted(waves.items()))


def max_overlap(dags):
    """The most runs alive at one instant, from their creation and end times."""
    points = sorted([(dag.created_at, 1) for dag in dags] + [(dag.end_time, -1) for dag in dags])
    alive = peak = 0
    for _, step in points:
        alive += step
        peak = max(peak, alive)
    return peak


def test_every_cluster_is_upgraded_wave_after_wave_two_at_a_time():
    clusters = make_fleet(12)
    campaign = create(clusters, reason="CHG-1: 4.3.0.1 everywhere")
    waves = members_by_wave(campaign)
    assert [len(members) for members in waves.values()] == [1, 4, 4, 3]
    assert waves[0][0].cluster.name == "c01"
    campaign_start(campaign=campaign, actor=Actor.for_user(campaign.created_by), now=FROZEN)
    campaign = drive(campaign)

    assert campaign.state == Campaign.State.SUCCEEDED
    assert set(states(campaign).values()) == {Member.SUCCEEDED}
    waves = members_by_wave(campaign)
    for number, members in waves.items():
        dags = [member.dag for member in members]
        assert all(dag.state == DagState.SUCCEED and dag.kind == Dag.Kind.UPGRADE for dag in dags)
        assert max_overlap(dags) <= 2
        if number:
            # A wave's first run starts after the previous wave's last run ended.
            previous_end = max(member.dag.end_time for member in waves[number - 1])
            assert min(dag.created_at for dag in dags) >= previous_end
    all_dags = [member.dag for members in waves.values() for member in members]
    assert max_overlap(all_dags) == 2
    # Within a wave the clusters start in their order.
    for members in waves.values():
        ordered = sorted(members, key=lambda member: member.position)
        assert [m.dag.pk for m in ordered] == sorted(m.dag.pk for m in ordered)
    # Each run is an ordinary run: audited as an upgrade start that names the campaign and its wave.
    starts = AuditEntry.objects.filter(action=AuditEntry.Action.UPGRADE_START)
    assert starts.count() == 12
    assert all(f"(#{campaign.pk})" in entry.reason and "CHG-1" in entry.reason for entry in starts)
    assert starts.filter(reason__contains="canary wave").count() == 1
    assert starts.filter(reason__contains="wave 3").count() == 3
    finish = AuditEntry.objects.get(action=AuditEntry.Action.CAMPAIGN_FINISH)
    assert finish.detail["state"] == "succeeded"


def test_a_failure_in_wave_two_pauses_with_the_rest_untouched_and_a_skip_finishes_it():
    clusters = make_fleet(12)
    campaign = create(clusters)
    broken = members_by_wave(campaign)[2][1].cluster
    operator = Actor.for_user(campaign.created_by)
    fault_arm(cluster=broken, node_name="Execute upgrade pre script", actor=Actor.system("test"), reason="drill")
    campaign_start(campaign=campaign, actor=operator, now=FROZEN)
    campaign = drive(campaign)

    assert campaign.state == Campaign.State.PAUSED
    assert broken.name in campaign.state_reason
    by_wave = members_by_wave(campaign)
    assert {m.state for m in by_wave[0] + by_wave[1]} == {Member.SUCCEEDED}
    wave2 = {m.cluster.name: m.state for m in by_wave[2]}
    assert wave2[broken.name] == Member.FAILED
    # Nothing of the last wave started, and no run of wave 2 started after the failure was seen.
    assert {m.state for m in by_wave[3]} == {Member.PENDING}
    assert all(m.dag_id is None for m in by_wave[3])
    assert Member.PENDING in wave2.values()
    failed_dag = CampaignCluster.objects.get(campaign=campaign, cluster=broken).dag
    assert failed_dag.state == DagState.FAILED and failed_dag.holds_lock

    campaign_resume(campaign=campaign, actor=operator, reason="known issue on c07", skip_failed=True)
    campaign = drive(campaign)
    assert campaign.state == Campaign.State.SUCCEEDED
    final = states(campaign)
    assert final.pop(broken.name) == Member.SKIPPED
    assert set(final.values()) == {Member.SUCCEEDED}
    resume = AuditEntry.objects.get(action=AuditEntry.Action.CAMPAIGN_RESUME)
    assert resume.detail["skipped"] == [broken.name] and resume.reason == "known issue on c07"
    pauses = AuditEntry.objects.filter(action=AuditEntry.Action.CAMPAIGN_PAUSE)
    assert pauses.count() == 1 and pauses.get().actor_label == "campaign scheduler"


def test_clusters_already_on_the_target_are_listed_and_left_out():
    clusters = make_fleet(3)
    done = make_fleet(1, prefix="done", stock=False)[0]
    done.servers.update(build_version=TARGET.build_version)
    campaign = create([*clusters, done])
    member = CampaignCluster.objects.get(campaign=campaign, cluster=done)
    assert member.state == Member.ALREADY_ON_TARGET and member.wave is None
    campaign_start(campaign=campaign, actor=Actor.for_user(campaign.created_by), now=FROZEN)
    campaign = drive(campaign)
    assert campaign.state == Campaign.State.SUCCEEDED
    assert not Dag.objects.filter(cluster=done).exists()


def test_after_f_failures_policy_carries_on_past_one_failure():
    clusters = make_fleet(5)
    campaign = create(clusters, failure_threshold=2)
    fault_arm(cluster=clusters[2], node_name="Execute upgrade pre script", actor=Actor.system("test"), reason="x")
    campaign_start(campaign=campaign, actor=Actor.for_user(campaign.created_by), now=FROZEN)
    campaign = drive(campaign)
    # One failure is under the threshold: every other cluster is upgraded and the campaign ends failed.
    assert campaign.state == Campaign.State.FAILED
    final = states(campaign)
    assert final.pop(clusters[2].name) == Member.FAILED
    assert set(final.values()) == {Member.SUCCEEDED}


def test_a_refused_start_is_a_failure_and_its_refusal_is_audited():
    clusters = make_fleet(2)
    campaign = create(clusters)
    clusters[0].health = {"tablets_merging": True}  # a pre-check fails: upgrade_start refuses
    clusters[0].save(update_fields=["health"])
    campaign_start(campaign=campaign, actor=Actor.for_user(campaign.created_by), now=FROZEN)
    campaign = drive(campaign)
    assert campaign.state == Campaign.State.PAUSED
    member = CampaignCluster.objects.get(campaign=campaign, cluster=clusters[0])
    assert member.state == Member.FAILED and member.dag is None and member.reason.startswith("not started: ")
    refused = AuditEntry.objects.get(action=AuditEntry.Action.UPGRADE_START, cluster=clusters[0])
    assert refused.outcome == AuditEntry.Outcome.REFUSED and f"(#{campaign.pk})" in refused.reason
