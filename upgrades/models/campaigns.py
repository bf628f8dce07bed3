"""Fleet campaigns (issue 14): one target build rolled through many clusters in waves (a canary first), at most
K upgrades at once, inside each cluster's maintenance windows, pausing on failures. Each cluster's upgrade is an
ordinary run (Dag) that its CampaignCluster row links to; upgrades/services/campaigns.py changes these rows and
upgrades/services/campaign_scheduler.py advances them."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Campaign(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        AWAITING_APPROVAL = "awaiting_approval", _("Awaiting approval")
        SCHEDULED = "scheduled", _("Scheduled")
        RUNNING = "running", _("Running")
        PAUSED = "paused", _("Paused")
        SUCCEEDED = "succeeded", _("Succeeded")
        ABORTED = "aborted", _("Aborted")
        FAILED = "failed", _("Failed")

    name = models.CharField(max_length=100)
    # The target per edition: {"community": {"version": "4.3.0.1", "release": "101000062023110109.el7"}, ...}.
    targets = models.JSONField(default=dict)
    # Rolling where the cluster allows it; else stopService only when downtime is allowed (else it is skipped).
    allow_downtime = models.BooleanField(default=False)
    # The filter the clusters were picked with, as given ({"clusters": [...], "edition", "build", "name_pattern",
    # "label"}); the resolved set is the CampaignCluster rows, made at creation.
    cluster_filter = models.JSONField(default=dict, blank=True)
    canary_size = models.PositiveIntegerField(default=1)
    wave_size = models.PositiveIntegerField(default=4)
    max_parallel = models.PositiveIntegerField(default=2)
    soak_minutes = models.PositiveIntegerField(default=0)
    # Pause once this many clusters have failed since the start (or the last resume): 1 = on the first failure.
    failure_threshold = models.PositiveIntegerField(default=1)
    # Failures the DBA resumed past (a resume without skipping keeps them failed and counts from here).
    failures_acknowledged = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=20, choices=State.choices, default=State.DRAFT, db_index=True)
    # Campaigns that touch production clusters need a second person's approval before they start (an Approval
    # with subject_type "campaign", upgrades/services/approvals.py).
    needs_approval = models.BooleanField(default=False)
    reason = models.TextField(blank=True)
    # Why the campaign paused, failed or was aborted (empty while it runs).
    state_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_by_label = models.CharField(max_length=200, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    started_by_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # A start may be scheduled: the campaign waits (state scheduled) until then.
    not_before = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The scheduler's estimate of the end, from usual durations and windows, and when it was made.
    eta = models.DateTimeField(null=True, blank=True)
    eta_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"campaign {self.pk} {self.name}"

    @property
    def is_finished(self):
        return self.state in FINISHED_CAMPAIGN_STATES


FINISHED_CAMPAIGN_STATES = frozenset({Campaign.State.SUCCEEDED, Campaign.State.ABORTED, Campaign.State.FAILED})


class CampaignWave(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="waves")
    # 0 is the canary wave; then 1, 2, ...
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["campaign", "number"]
        constraints = [models.UniqueConstraint(fields=["campaign", "number"], name="campaign_wave_unique_number")]

    def __str__(self):
        return f"campaign {self.campaign_id} wave {self.number}"

    @property
    def is_canary(self):
        return self.number == 0


class CampaignCluster(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        WAITING_WINDOW = "waiting_window", _("Waiting for its window")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")
        ALREADY_ON_TARGET = "already_on_target", _("Already on the target")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="members")
    # None for the clusters left out at creation (already on the target, or no allowed mode).
    wave = models.ForeignKey(CampaignWave, on_delete=models.CASCADE, null=True, blank=True, related_name="members")
    cluster = models.ForeignKey("upgrades.Cluster", on_delete=models.CASCADE, related_name="campaign_memberships")
    position = models.PositiveIntegerField(default=0)
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING)
    version = models.CharField(max_length=64)
    release = models.CharField(max_length=128)
    mode = models.CharField(max_length=16, blank=True)
    dag = models.ForeignKey("upgrades.Dag", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    reason = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["campaign", "position"]
        constraints = [models.UniqueConstraint(fields=["campaign", "cluster"], name="campaign_cluster_once")]
        indexes = [models.Index(fields=["campaign", "state"], name="campaign_member_state")]

    def __str__(self):
        return f"campaign {self.campaign_id} cluster {self.cluster_id} {self.state}"


ACTIVE_MEMBER_STATES = frozenset({CampaignCluster.State.PENDING, CampaignCluster.State.WAITING_WINDOW})
DONE_MEMBER_STATES = frozenset(
    {
        CampaignCluster.State.SUCCEEDED,
        CampaignCluster.State.FAILED,
        CampaignCluster.State.SKIPPED,
        CampaignCluster.State.ALREADY_ON_TARGET,
    }
)
