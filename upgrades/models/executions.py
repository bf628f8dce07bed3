"""What the simulated backend actually executed: one row per execution of a step (upgrades.backends.simulated).

The engine's own rows say what a sub-task is now; these say when each attempt of it really ran and where, so a
soak (`manage.py soak`) can prove what the lease design promises: no two executions of one sub-task at the
same time, and no second execution of an attempt whose node cannot continue. A row is inserted when the step
starts and closed when it returns or raises; a process killed mid-step leaves `ended_at` null.
"""

from django.db import models


class ExecutionRecord(models.Model):
    class Phase(models.TextChoices):
        RUN = "run"
        ROLLBACK = "rollback"

    # Outcomes other than these are the name of the exception that stopped the step (LeaseLost, WorkerStopping,
    # OperationalError...): the step did not end on its own.
    OK = "ok"
    FAILED = "failed"

    sub_task = models.ForeignKey("upgrades.SubTask", on_delete=models.CASCADE, related_name="executions")
    attempt = models.PositiveIntegerField()  # the sub-task's execute_times when it ran
    phase = models.CharField(max_length=8, choices=Phase.choices, default=Phase.RUN)
    host = models.CharField(max_length=64)
    pid = models.PositiveIntegerField()
    owner = models.CharField(max_length=128, blank=True)  # the lease owner (worker thread) that ran it
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["sub_task", "started_at", "id"]

    def __str__(self):
        return f"{self.sub_task_id} attempt {self.attempt} {self.phase} on {self.host}:{self.pid}"
