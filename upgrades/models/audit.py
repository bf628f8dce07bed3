from django.conf import settings
from django.db import models


class AuditEntry(models.Model):
    """Append-only record of every action and every authentication failure. Never holds a secret."""

    class Action(models.TextChoices):
        UPGRADE_START = "upgrade.start"
        UPGRADE_CHECK_START = "upgrade_check.start"
        AGENT_UPGRADE_START = "agent_upgrade.start"
        AGENT_UPGRADE_CHECK_START = "agent_upgrade_check.start"
        DAG_OPERATE = "dag.operate"
        NODE_PASS = "node.pass"
        DAG_CONTINUE_ROLLBACK = "dag.continue_rollback"
        CLUSTER_CREATE = "cluster.create"
        CLUSTER_PASSWORD_SET = "cluster.password_set"
        CLUSTER_KEY_CONFIRM = "cluster.key_confirm"
        CLUSTER_CONTACT_STOPPED = "cluster.contact_stopped"
        PACKAGE_UPLOAD = "package.upload"
        PACKAGE_DELETE = "package.delete"
        PARAMS_BACKUP = "params.backup"
        PARAMS_RESTORE = "params.restore"
        TOKEN_CREATE = "token.create"
        TOKEN_REVOKE = "token.revoke"
        FAULT_INJECT = "fault.inject"
        FAULT_DISARM = "fault.disarm"
        LOGIN_LINK_CREATE = "login_link.create"
        LOGIN_LINK_USE = "login_link.use"
        API_AUTH = "api.auth"
        SUBSCRIPTION_CREATE = "subscription.create"
        SUBSCRIPTION_UPDATE = "subscription.update"
        SUBSCRIPTION_DELETE = "subscription.delete"
        SUBSCRIPTION_TEST = "subscription.test"
        RUN_PRUNE = "run.prune"
        LABEL_SET = "label.set"
        LABEL_REMOVE = "label.remove"
        WINDOW_ADD = "window.add"
        WINDOW_REMOVE = "window.remove"
        APPROVAL_RECORD = "approval.record"
        UPGRADE_REQUEST_CREATE = "upgrade_request.create"
        UPGRADE_REQUEST_APPROVE = "upgrade_request.approve"
        UPGRADE_REQUEST_REFUSE = "upgrade_request.refuse"
        CAMPAIGN_CREATE = "campaign.create"
        CAMPAIGN_APPROVE = "campaign.approve"
        CAMPAIGN_START = "campaign.start"
        CAMPAIGN_PAUSE = "campaign.pause"
        CAMPAIGN_RESUME = "campaign.resume"
        CAMPAIGN_SKIP_CLUSTER = "campaign.skip_cluster"
        CAMPAIGN_ABORT = "campaign.abort"
        CAMPAIGN_FINISH = "campaign.finish"

    class Outcome(models.TextChoices):
        OK = "ok"
        REFUSED = "refused"
        FAILED = "failed"

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    actor_token = models.ForeignKey("upgrades.ApiToken", on_delete=models.SET_NULL, null=True, blank=True)
    # What the actor was when it acted ("user alice", "token ci-pipeline", "system"), kept if the row goes.
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=64, choices=Action.choices, db_index=True)
    cluster = models.ForeignKey("upgrades.Cluster", on_delete=models.SET_NULL, null=True, blank=True)
    dag = models.ForeignKey("upgrades.Dag", on_delete=models.SET_NULL, null=True, blank=True)
    source_address = models.CharField(max_length=64, blank=True)
    trace_id = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.OK)
    reason = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name_plural = "audit entries"
        # The audit page's order, so a page (a deep one too) is read from the index, not a sort of every entry.
        indexes = [models.Index(fields=["-at", "-id"], name="audit_newest_first")]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.action} {self.outcome}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("audit entries are append-only")
