"""What finished runs leave behind: the usual duration of each step (a summary refreshed from finished runs)
and the compressed archive of a long-finished run's events and task logs (`manage.py prune`)."""

from django.db import models
from django.utils import timezone


class StepDurationStat(models.Model):
    """The usual duration of one node action on clusters of one size bucket, from the latest finished runs.

    Rebuilt by the `refresh-step-durations` periodic job (upgrades/operations/durations.py), so a read is one
    indexed lookup however many runs there are. `size_bucket` is the smallest server count of the bucket
    (1, 2, 4, 10, 30, 100, 300); 0 holds the action over every size (the fallback of a bucket with too few
    samples)."""

    action = models.CharField(max_length=64)
    size_bucket = models.PositiveIntegerField()
    samples = models.PositiveIntegerField()
    median_seconds = models.FloatField()
    p90_seconds = models.FloatField()
    refreshed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["action", "size_bucket"], name="stepdurationstat_unique_bucket")]

    def __str__(self):
        return f"{self.action} @{self.size_bucket}+: median {self.median_seconds:.1f}s ({self.samples})"


class RunArchive(models.Model):
    """The events and task logs of one long-finished run, moved out of the DagEvent and TaskLog tables.

    Each blob is zstandard-compressed JSON lines in id (seq) order: an event line is
    {"seq", "kind", "at", "payload"}, a log line {"id", "sub_task_id", "execute_times", "phase", "created_at",
    "level", "text"}. Readers stream them (upgrades/operations/archive.py), so a large run is read in bounded
    memory. Kept in the database, not under MEDIA_ROOT: written in the transaction that deletes the rows, so a
    reader sees either the rows or the archive, and backups that hold the runs hold their logs."""

    dag = models.OneToOneField("upgrades.Dag", on_delete=models.CASCADE, related_name="archive")
    archived_at = models.DateTimeField(default=timezone.now)
    last_seq = models.PositiveBigIntegerField()
    event_count = models.PositiveIntegerField()
    log_count = models.PositiveIntegerField()
    raw_bytes = models.PositiveBigIntegerField()
    events = models.BinaryField()
    logs = models.BinaryField()

    def __str__(self):
        return f"archive of dag {self.dag_id}: {self.event_count} events, {self.log_count} log lines"
