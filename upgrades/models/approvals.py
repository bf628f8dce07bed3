"""Approvals: a second person's decision on something a first person asked for.

- `Approval`: the decision on one subject, named by (subject_type, subject_id) so any model can be approved
  without this one knowing it (an upgrade request: "upgrade_request"; a campaign: "campaign"). One decision
  per subject (a unique constraint), who decided, when, and why.
- `UpgradeRequest`: an upgrade of a production cluster asked for from the pages, waiting for that decision;
  once approved it starts as an ordinary run (`dag`).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Approval(models.Model):
    class Decision(models.TextChoices):
        APPROVED = "approved"
        REFUSED = "refused"

    subject_type = models.CharField(max_length=32)
    subject_id = models.PositiveBigIntegerField()
    cluster = models.ForeignKey("upgrades.Cluster", on_delete=models.SET_NULL, null=True, blank=True)
    decision = models.CharField(max_length=16, choices=Decision.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    # Who decided, as the audit log names them ("user bob"), kept if the user goes.
    decided_by_label = models.CharField(max_length=200)
    decided_at = models.DateTimeField(auto_now_add=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-decided_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["subject_type", "subject_id"], name="approval_one_decision_per_subject")
        ]

    def __str__(self):
        return f"{self.subject_type} {self.subject_id}: {self.decision} by {self.decided_by_label}"


class UpgradeRequest(models.Model):
    class State(models.TextChoices):
        PENDING = "pending"
        APPROVED = "approved"  # approved; its run has not started (yet, or its start was refused: start_error)
        REFUSED = "refused"
        STARTED = "started"
        EXPIRED = "expired"

    class Kind(models.TextChoices):
        UPGRADE = "upgrade", _("OceanBase upgrade")
        AGENT_UPGRADE = "agent_upgrade", _("obshell upgrade")

    cluster = models.ForeignKey("upgrades.Cluster", on_delete=models.CASCADE, related_name="upgrade_requests")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.UPGRADE)
    version = models.CharField(max_length=64)
    release = models.CharField(max_length=64)
    mode = models.CharField(max_length=16, blank=True)
    upgrade_dir = models.CharField(max_length=512, blank=True)
    freeze_server = models.BooleanField(default=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="upgrade_requests"
    )
    requested_by_label = models.CharField(max_length=200)
    reason = models.TextField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by_label = models.CharField(max_length=200, blank=True)
    decision_reason = models.TextField(blank=True)
    start_error = models.TextField(blank=True)
    dag = models.ForeignKey("upgrades.Dag", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster"], condition=Q(state="pending"), name="upgrade_request_one_pending_per_cluster"
            )
        ]

    def __str__(self):
        return f"request {self.pk}: {self.kind} of {self.cluster_id} to {self.target} ({self.state})"

    @property
    def effective_state(self) -> str:
        """The state as people should read it: a pending request past its expiry is expired (the row says so
        once someone acts on it)."""
        if self.state == self.State.PENDING and self.expires_at <= timezone.now():
            return self.State.EXPIRED
        return self.state

    @property
    def target(self) -> str:
        return f"{self.version}-{self.release}"
