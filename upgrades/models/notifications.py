"""Notifications (README: Notifications): who is told about which upgrade events, and every message sent.

A Subscription's target (a webhook URL is itself a credential: Slack's and DingTalk's carry their token) and
its signing secret are Fernet tokens under FIELD_ENCRYPTION_KEY; only a redacted `target_display` is kept in
clear. A Delivery is one message for one subscription and one DagEvent (at most one: a unique constraint), with
the exact request sent, the answer and every attempt."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Subscription(models.Model):
    class Format(models.TextChoices):
        GENERIC = "generic", _("Generic webhook (signed JSON)")
        SLACK = "slack", _("Slack incoming webhook")
        DINGTALK = "dingtalk", _("DingTalk robot")
        FEISHU = "feishu", _("Feishu / Lark robot")
        EMAIL = "email", _("Email")

    class Event(models.TextChoices):
        STARTED = "upgrade.started", _("started")
        SUCCEEDED = "upgrade.succeeded", _("succeeded")
        FAILED = "upgrade.failed", _("failed")
        CANCELLED = "upgrade.cancelled", _("cancelled")
        ROLLED_BACK = "upgrade.rolled_back", _("rolled back")
        STALLED = "upgrade.stalled", _("stalled")
        CAMPAIGN_STARTED = "campaign.started", _("campaign started")
        CAMPAIGN_WAVE_DONE = "campaign.wave_done", _("campaign wave done")
        CAMPAIGN_PAUSED = "campaign.paused", _("campaign paused")
        CAMPAIGN_FINISHED = "campaign.finished", _("campaign finished")

    name = models.CharField(max_length=100)
    format = models.CharField(max_length=16, choices=Format.choices)
    target_encrypted = models.TextField()
    target_display = models.CharField(max_length=300)
    secret_encrypted = models.TextField(blank=True)
    all_clusters = models.BooleanField(default=True)
    clusters = models.ManyToManyField("upgrades.Cluster", blank=True, related_name="subscriptions")
    events = models.JSONField(default=list)
    enabled = models.BooleanField(default=True)
    # What its messages are written in: a language of LANGUAGES and an IANA zone; empty: the site's LANGUAGE_CODE
    # and TIME_ZONE (README: Language and time).
    language = models.CharField(max_length=16, blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    # Events at or after this time are delivered: set at creation and whenever the subscription is enabled again.
    active_since = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return f"{self.name} ({self.format})"

    @property
    def has_secret(self):
        return bool(self.secret_encrypted)


class Delivery(models.Model):
    class State(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="deliveries")
    kind = models.CharField(max_length=32)  # a Subscription.Event, or "test"
    dag = models.ForeignKey("upgrades.Dag", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # The DagEvent this message tells of (a plain id: retention may compact the events of old runs).
    dag_event_id = models.BigIntegerField(null=True, blank=True)
    event_seq = models.PositiveBigIntegerField(null=True, blank=True)
    event_at = models.DateTimeField(null=True, blank=True)
    summary = models.CharField(max_length=300)
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # The request as last sent (the URL redacted like the target; headers hold no secret).
    request_url = models.CharField(max_length=500, blank=True)
    request_headers = models.JSONField(default=dict, blank=True)
    request_body = models.TextField(blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(blank=True)
    last_error = models.TextField(blank=True)
    # One entry per attempt: {"at", "status", "error", "ms"}.
    history = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["subscription", "dag_event_id"], name="delivery_once_per_event"),
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="delivery_due")]

    def __str__(self):
        return f"delivery {self.pk} {self.kind} {self.state}"


class NotificationCursor(models.Model):
    """How far the notifier has read one DAG's event stream (seq is gapless per DAG and committed in order, so
    every event up to the DAG's committed last_seq is visible), and the DAG state it last saw there."""

    dag = models.OneToOneField("upgrades.Dag", on_delete=models.CASCADE, primary_key=True, related_name="+")
    seq = models.PositiveBigIntegerField(default=0)
    state = models.CharField(max_length=8, blank=True)

    def __str__(self):
        return f"notified dag {self.dag_id} up to #{self.seq}"
