"""Campaign services and pages around the waves: roles, the filter (labels included) resolved and stored at
creation, refusals audited, the command line, notifications, and the pages' preview and grid."""

import pytest
from django.core.management import call_command
from django.test import Client

from tests.campaigns.helpers import FROZEN, TARGETS, create, drive, make_fleet
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.factories import make_cluster, make_user
from upgrades.audit import Actor
from upgrades.models import AuditEntry, Campaign, CampaignCluster, Cluster, Delivery
from upgrades.services.campaign_plan import CampaignRefused
from upgrades.services.campaigns import (
    campaign_abort,
    campaign_create,
    campaign_pause,
    campaign_resume,
    campaign_skip_cluster,
    campaign_start,
)
from upgrades.services.labels import label_set
from upgrades.services.notifications import subscription_create

pytestmark = pytest.mark.django_db

Member = CampaignCluster.State


def test_a_viewer_cannot_create_and_the_refusal_is_audited():
    clusters = make_fleet(2)
    with pytest.raises(CampaignRefused, match="operator role"):
        create(clusters, actor=Actor.for_user(make_user("viewer")))
    assert not Campaign.objects.exists()
    refused = AuditEntry.objects.get(action=AuditEntry.Action.CAMPAIGN_CREATE)
    assert refused.outcome == AuditEntry.Outcome.REFUSED and "operator role" in refused.detail["message"]


def test_the_filter_is_stored_with_the_resolved_set_and_labels_filter():
    admin = Actor.for_user(make_user("admin"))
    make_fleet(4, prefix="hz-")
    make_fleet(2, prefix="sh-", stock=False)
    standalone = make_cluster("hz-solo", edition="standalone", zones=1)
    for name in ("hz-01", "hz-02", "sh-01"):
        label_set(cluster=Cluster.objects.get(name=name), key="region", value="east", actor=admin)
    campaign = campaign_create(
        name="east",
        targets=TARGETS,
        cluster_filter={"name_pattern": "hz-*", "label": "region=east", "edition": "", "clusters": []},
        actor=Actor.for_user(make_user("operator")),
    )
    assert campaign.cluster_filter == {"name_pattern": "hz-*", "label": "region=east"}
    names = set(CampaignCluster.objects.filter(campaign=campaign).values_list("cluster__name", flat=True))
    assert names == {"hz-01", "hz-02"}
    # An edition without a target is left out and says why.
    mixed = campaign_create(
        name="hz all", targets=TARGETS, cluster_filter={"name_pattern": "hz-*"}, actor=Actor.for_user(make_user())
    )
    solo = CampaignCluster.objects.get(campaign=mixed, cluster=standalone)
    assert solo.state == Member.SKIPPED and solo.wave is None and "standalone" in solo.reason


def test_a_cluster_that_cannot_roll_is_left_out_unless_downtime_is_allowed():
    make_fleet(1, prefix="three")
    two = make_cluster("two-zones", zones=2)
    no_downtime = campaign_create(
        name="no downtime",
        targets=TARGETS,
        cluster_filter={"clusters": ["three01", "two-zones"]},
        actor=Actor.for_user(make_user()),
    )
    member = CampaignCluster.objects.get(campaign=no_downtime, cluster=two)
    assert member.state == Member.SKIPPED and "no downtime" in member.reason
    downtime = campaign_create(
        name="downtime ok",
        targets=TARGETS,
        cluster_filter={"clusters": ["three01", "two-zones"]},
        allow_downtime=True,
        actor=Actor.for_user(make_user()),
    )
    member = CampaignCluster.objects.get(campaign=downtime, cluster=two)
    assert member.wave is not None and member.mode == "STOPSERVICE"
    assert CampaignCluster.objects.get(campaign=downtime, cluster__name="three01").mode == "ROLLING"


def test_state_guards_pause_resume_skip_and_abort_are_audited():
    clusters = make_fleet(3)
    operator = Actor.for_user(make_user())
    campaign = create(clusters)
    with pytest.raises(CampaignRefused, match="is Draft"):
        campaign_pause(campaign=campaign, actor=operator, reason="x")
    campaign_skip_cluster(campaign=campaign, cluster=clusters[2], actor=operator, reason="not this one")
    campaign_start(campaign=campaign, actor=operator, now=FROZEN)
    campaign_pause(campaign=campaign, actor=operator, reason="freeze week")
    campaign = drive(campaign)
    assert campaign.state == Campaign.State.PAUSED
    assert not CampaignCluster.objects.filter(campaign=campaign, dag__isnull=False).exists()
    campaign_resume(campaign=campaign, actor=operator, reason="freeze over")
    campaign = drive(campaign)
    assert campaign.state == Campaign.State.SUCCEEDED
    assert CampaignCluster.objects.get(campaign=campaign, cluster=clusters[2]).state == Member.SKIPPED
    with pytest.raises(CampaignRefused):
        campaign_abort(campaign=campaign, actor=operator, reason="too late")
    actions = list(
        AuditEntry.objects.filter(action__startswith="campaign.").order_by("id").values_list("action", "outcome")
    )
    assert actions == [
        ("campaign.create", "ok"),
        ("campaign.pause", "refused"),
        ("campaign.skip_cluster", "ok"),
        ("campaign.start", "ok"),
        ("campaign.pause", "ok"),
        ("campaign.resume", "ok"),
        ("campaign.finish", "ok"),
        ("campaign.abort", "refused"),
    ]


def test_abort_skips_what_has_not_started():
    clusters = make_fleet(4)
    operator = Actor.for_user(make_user())
    campaign = create(clusters, wave_size=4)
    campaign_start(campaign=campaign, actor=operator, now=FROZEN)
    campaign_abort(campaign=campaign, actor=operator, reason="wrong build")
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.ABORTED and campaign.finished_at is not None
    assert set(CampaignCluster.objects.filter(campaign=campaign).values_list("state", flat=True)) == {Member.SKIPPED}


def test_notifications_for_start_waves_and_finish(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    clusters = make_fleet(3)
    subscription_create(
        name="ops",
        format="generic",
        target="http://127.0.0.1:9/hook",
        secret="s3cret-s3cret",
        events=["campaign.started", "campaign.wave_done", "campaign.paused", "campaign.finished"],
        actor=Actor.system("test"),
    )
    campaign = create(clusters, wave_size=2)
    campaign_start(campaign=campaign, actor=Actor.for_user(campaign.created_by), now=FROZEN)
    drive(campaign)
    kinds = list(Delivery.objects.order_by("id").values_list("kind", flat=True))
    assert kinds == ["campaign.started", "campaign.wave_done", "campaign.wave_done", "campaign.finished"]
    body = Delivery.objects.get(kind="campaign.finished").request_body
    assert f"/campaigns/{campaign.pk}/" in body and "succeeded" in body


def test_the_command_creates_starts_and_reports(capsys):
    make_fleet(3)
    call_command(
        "campaign",
        "create",
        "--name",
        "cli",
        "--target",
        f"community={TARGET.version}-{TARGET.release}",
        "--name-pattern",
        "c*",
        "--wave-size",
        "2",
        "--max-parallel",
        "1",
        "--reason",
        "CHG-9",
    )
    campaign_id = int(capsys.readouterr().out.strip())
    campaign = Campaign.objects.get(pk=campaign_id)
    assert campaign.created_by_label.startswith("command ") and campaign.max_parallel == 1
    assert campaign.waves.count() == 2
    call_command("campaign", "start", str(campaign_id))
    assert "running" in capsys.readouterr().out
    call_command("campaign", "pause", str(campaign_id), "--reason", "stop")
    call_command("campaign", "resume", str(campaign_id), "--reason", "go", "--skip-failed")
    call_command("campaign", "abort", str(campaign_id), "--reason", "done")
    assert Campaign.objects.get(pk=campaign_id).state == Campaign.State.ABORTED


def test_pages_preview_create_and_grid():
    make_fleet(5)
    done = make_cluster("c99")
    done.servers.update(build_version=TARGET.build_version)
    client = Client()
    client.force_login(make_user("operator"))
    form = {
        "name": "from the page",
        "target_community": f"{TARGET.version}|{TARGET.release}",
        "name_pattern": "c*",
        "canary_size": 1,
        "wave_size": 2,
        "max_parallel": 1,
        "soak_minutes": 5,
        "failure_threshold": 1,
        "reason": "CHG-2",
    }
    preview = client.post("/campaigns/new/", {**form, "action": "preview"})
    text = preview.content.decode()
    assert preview.status_code == 200 and "data-campaign-preview" in text
    assert "5 clusters to upgrade" in text and "c99</span>: already on the target" in text
    assert not Campaign.objects.exists()
    created = client.post("/campaigns/new/", {**form, "action": "create"})
    campaign = Campaign.objects.get()
    assert created.status_code == 302 and created["Location"] == f"/campaigns/{campaign.pk}/"
    page = client.get(created["Location"]).content.decode()
    assert page.count('data-state="pending"') == 5 and 'data-state="already_on_target"' in page
    assert 'data-wave="0"' in page and 'data-wave="2"' in page and 'value="start"' in page
    assert client.post(f"/campaigns/{campaign.pk}/act/", {"action": "pause"}).status_code == 302
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.DRAFT  # no reason given: nothing happened
    client.post(f"/campaigns/{campaign.pk}/act/", {"action": "start"})
    campaign.refresh_from_db()
    assert campaign.state == Campaign.State.RUNNING
    listing = client.get("/campaigns/").content.decode()
    assert "from the page" in listing and 'data-campaign-state="running"' in listing
