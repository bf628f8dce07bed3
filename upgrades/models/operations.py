"""Operations rows: which worker processes are alive (their heartbeat) and who runs each periodic job."""

from django.db import models
from django.utils import timezone


class WorkerHeartbeat(models.Model):
    """One row per group of worker threads: the embedded threads of a web process, a `run_worker` process,
    or an in-process runner. Each worker's lease owner (SubTask.lease_owner) starts with `ident` + ":", so
    what a group holds now is read from the sub-task leases. A clean stop deletes the row; a killed process
    leaves it to go stale, and a periodic job forgets it later."""

    class Kind(models.TextChoices):
        EMBEDDED = "embedded"
        PROCESS = "process"

    ident = models.CharField(max_length=96, unique=True)
    host = models.CharField(max_length=64)
    pid = models.PositiveIntegerField()
    kind = models.CharField(max_length=8, choices=Kind.choices)
    threads = models.PositiveIntegerField(default=1)
    started_at = models.DateTimeField(default=timezone.now)
    last_beat_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["host", "pid", "ident"]

    def __str__(self):
        return f"{self.kind} worker {self.ident}"


class PeriodicJobLease(models.Model):
    """The lease of one periodic job (upgrades.engine.periodic): a worker runs it only after claiming this row
    with a conditional UPDATE (due, and no live lease), so one runner at a time runs it, once per interval."""

    name = models.CharField(max_length=64, unique=True)
    holder = models.CharField(max_length=128, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    next_run_at = models.DateTimeField(default=timezone.now)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    runs = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"periodic job {self.name}"
