"""The upgrade run as obshell models it: a DAG of nodes (stages), each with one sub-task per agent."""

from datetime import UTC, datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# obshell's "not started yet": a DAG set READY again by an operator shows this start and end time.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class State(models.TextChoices):
    PENDING = "PENDING"
    READY = "READY"
    RUNNING = "RUNNING"
    FAILED = "FAILED"
    SUCCEED = "SUCCEED"


class Operator(models.TextChoices):
    RUN = "RUN"
    RETRY = "RETRY"
    ROLLBACK = "ROLLBACK"
    CANCEL = "CANCEL"
    PASS = "PASS"


class MaintenanceType(models.IntegerChoices):
    NOT_BOOTSTRAP = 0
    NONE = 1
    GLOBAL = 2
    TENANT = 3
    OBPROXY = 4


class Dag(models.Model):
    class Kind(models.TextChoices):
        UPGRADE = "upgrade"
        UPGRADE_CHECK = "upgrade_check"
        # obshell's own upgrade (spec 3.1, 5.7): `Upgrade obshell <v>-<r>` and `Upgrade check obshell <v>-<r>`.
        AGENT_UPGRADE = "agent_upgrade", _("obshell upgrade")
        AGENT_UPGRADE_CHECK = "agent_upgrade_check", _("obshell upgrade check")

    class Mode(models.TextChoices):
        ROLLING = "ROLLING"
        STOPSERVICE = "STOPSERVICE"

    cluster = models.ForeignKey("upgrades.Cluster", on_delete=models.CASCADE, related_name="dags")
    kind = models.CharField(max_length=24, choices=Kind.choices, default=Kind.UPGRADE)
    name = models.CharField(max_length=255)
    stage = models.PositiveIntegerField(default=1)
    max_stage = models.PositiveIntegerField()
    state = models.CharField(max_length=8, choices=State.choices, default=State.READY)
    operator = models.CharField(max_length=8, choices=Operator.choices, default=Operator.RUN)
    maintenance_type = models.PositiveSmallIntegerField(choices=MaintenanceType.choices, default=MaintenanceType.GLOBAL)
    maintenance_key = models.CharField(max_length=128, blank=True)
    # The cluster's maintenance lock: at most one row per cluster may hold it (a partial unique index).
    holds_lock = models.BooleanField(default=False)
    is_finished = models.BooleanField(default=False)
    # obshell's time semantics (spec 6.2): both start at insert time, reset to the epoch on an operator.
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    start_time = models.DateTimeField(default=timezone.now)
    end_time = models.DateTimeField(default=timezone.now)
    # What was asked and what was frozen into the run when it was created.
    version = models.CharField(max_length=64)
    release = models.CharField(max_length=128)
    # A mirrored run (obshell backend): the agent's generic DAG id, and whether it was started outside this dashboard.
    remote_dag_id = models.CharField(max_length=64, blank=True, db_index=True)
    started_outside = models.BooleanField(default=False)
    # The mirror loop's lease (one worker polls a mirrored DAG at a time) and its contact with the agent:
    # {"unreachable_since": iso, "lost": bool, "last_error": str, "last_ok": iso}.
    mirror_owner = models.CharField(max_length=128, blank=True)
    mirror_lease_until = models.DateTimeField(null=True, blank=True)
    mirror_contact = models.JSONField(default=dict, blank=True)
    mode = models.CharField(max_length=16, choices=Mode.choices, blank=True)
    upgrade_dir = models.CharField(max_length=512, blank=True)
    freeze_server = models.BooleanField(default=False)
    from_version = models.CharField(max_length=64)
    to_version = models.CharField(max_length=64)
    route = models.JSONField(default=list)
    plan = models.JSONField(default=dict)
    timeout_seconds = models.PositiveIntegerField(default=3600)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    started_by_token = models.ForeignKey("upgrades.ApiToken", on_delete=models.SET_NULL, null=True, blank=True)
    actor_label = models.CharField(max_length=200, blank=True)
    reason = models.TextField(blank=True)
    # The last DagEvent.seq handed out; bumped under the row lock so seq is gapless per DAG.
    last_seq = models.PositiveBigIntegerField(default=0)
    # How many servers (distinct agents) the run works on, for duration statistics by cluster size; 0: unknown.
    server_count = models.PositiveIntegerField(default=0)
    # The verification of the cluster after the run (upgrades/operations/verification.py), kept once the run has
    # finished so its report says what was true then; empty until then.
    verification = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["cluster"], condition=Q(holds_lock=True), name="dag_one_maintenance_per_cluster"
            ),
        ]
        indexes = [
            models.Index(fields=["is_finished", "state"], name="dag_unfinished"),
            # The fleet page: each cluster's latest run, and whether it has an open one (a handful of rows in all,
            # so the top-bar counters read this small index instead of the whole history).
            models.Index(fields=["cluster", "-id"], name="dag_cluster_latest"),
            models.Index(fields=["cluster", "state"], condition=Q(is_finished=False), name="dag_open_by_cluster"),
            # The runs page's order (newest first), so a page is read from the index, not a sort of every run.
            models.Index(fields=["-created_at", "-id"], name="dag_newest_first"),
        ]

    def __str__(self):
        return f"{self.generic_id} {self.name}"

    @property
    def generic_id(self):
        return f"1{self.pk}"


class Node(models.Model):
    dag = models.ForeignKey(Dag, on_delete=models.CASCADE, related_name="nodes")
    seq = models.PositiveIntegerField()
    name = models.CharField(max_length=128)
    # What the engine runs for this stage, e.g. "stop_zone"; backends map it to a step implementation.
    action = models.CharField(max_length=64)
    parallel = models.BooleanField()
    hop = models.PositiveIntegerField(null=True, blank=True)
    zone_name = models.CharField(max_length=64, blank=True)
    remote_id = models.CharField(max_length=64, blank=True)  # the agent's generic node id, for a mirrored run
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    operator = models.CharField(max_length=8, choices=Operator.choices, default=Operator.RUN)
    start_time = models.DateTimeField(default=timezone.now)
    end_time = models.DateTimeField(default=timezone.now)
    can_retry = models.BooleanField(default=True)
    can_rollback = models.BooleanField(default=False)
    can_pass = models.BooleanField(default=False)
    can_cancel = models.BooleanField(default=False)
    can_continue = models.BooleanField(default=False)
    # When a node.stalled event was emitted for this node; one earlier than start_time belongs to a past run.
    stalled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["dag", "seq"]
        constraints = [models.UniqueConstraint(fields=["dag", "seq"], name="node_unique_seq")]

    def __str__(self):
        return f"{self.seq}. {self.name}"

    @property
    def generic_id(self):
        return f"1{self.pk}"


class SubTask(models.Model):
    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="sub_tasks")
    dag = models.ForeignKey(Dag, on_delete=models.CASCADE, related_name="sub_tasks")
    name = models.CharField(max_length=128)
    server = models.ForeignKey("upgrades.Server", on_delete=models.SET_NULL, null=True, blank=True)
    agent_ip = models.CharField(max_length=64)
    agent_port = models.PositiveIntegerField()
    remote_id = models.CharField(max_length=64, blank=True)  # the agent's generic sub_task id, for a mirrored run
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    operator = models.CharField(max_length=8, choices=Operator.choices, default=Operator.RUN)
    execute_times = models.PositiveIntegerField(default=0)
    start_time = models.DateTimeField(default=timezone.now)
    end_time = models.DateTimeField(default=timezone.now)
    # A failed attempt's rollback action must run before the retry re-runs the step (spec 6.4, RETRY).
    rollback_pending = models.BooleanField(default=False)
    context = models.JSONField(default=dict, blank=True)
    # The worker lease: who runs it and until when; a reaper handles leases that expire.
    lease_owner = models.CharField(max_length=128, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True, db_index=True)
    deadline_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["node", "id"]
        indexes = [models.Index(fields=["state", "lease_expires_at"], name="subtask_claim")]

    def __str__(self):
        return f"{self.name} @ {self.agent_ip}:{self.agent_port}"

    @property
    def generic_id(self):
        return f"1{self.pk}"


class TaskLog(models.Model):
    class Level(models.TextChoices):
        INFO = "INFO"
        WARN = "WARN"
        ERROR = "ERROR"

    class Phase(models.TextChoices):
        RUN = "run"
        ROLLBACK = "rollback"

    sub_task = models.ForeignKey(SubTask, on_delete=models.CASCADE, related_name="logs")
    execute_times = models.PositiveIntegerField()
    phase = models.CharField(max_length=8, choices=Phase.choices, default=Phase.RUN)
    created_at = models.DateTimeField(default=timezone.now)
    level = models.CharField(max_length=5, choices=Level.choices, default=Level.INFO)
    text = models.TextField()

    class Meta:
        ordering = ["sub_task", "id"]

    def __str__(self):
        return self.line

    @property
    def line(self):
        """The line as obshell's task_logs shows it: errors and warnings prefixed."""
        if self.level == self.Level.INFO:
            return self.text
        return f"{self.level}: {self.text}"


class DagEvent(models.Model):
    """Append-only, per-DAG event stream; seq starts at 1 and has no gaps."""

    class Kind(models.TextChoices):
        DAG_CREATED = "dag.created"
        DAG_UPDATED = "dag.updated"
        NODE_UPDATED = "node.updated"
        SUBTASK_UPDATED = "subtask.updated"
        LOG_APPENDED = "log.appended"
        OPERATOR_APPLIED = "operator.applied"
        AGENT_UNREACHABLE = "agent.unreachable"
        AGENT_BACK = "agent.back"
        AGENT_LOST = "agent.lost"
        NODE_STALLED = "node.stalled"

    dag = models.ForeignKey(Dag, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=32, choices=Kind.choices)
    payload = models.JSONField(default=dict)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["dag", "seq"]
        constraints = [models.UniqueConstraint(fields=["dag", "seq"], name="dagevent_unique_seq")]

    def __str__(self):
        return f"dag {self.dag_id} #{self.seq} {self.kind}"
