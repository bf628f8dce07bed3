"""Maintenance windows: when a campaign may start a cluster's run. A window belongs to one cluster, or to every
cluster carrying a label (key=value). It opens on the days it names (bit 0 of `days` is Monday ... bit 6 Sunday)
at `start` and closes at `end`, both wall-clock times in `time_zone` (IANA); an `end` before `start` closes the
next day, so "Tue 22:00-02:00" runs from Tuesday 22:00 to Wednesday 02:00. Reading and writing the human form,
and deciding whether a run fits, live in upgrades/operations/windows.py."""

from django.conf import settings
from django.db import models
from django.db.models import Q

ALL_DAYS = 0b1111111


class MaintenanceWindow(models.Model):
    cluster = models.ForeignKey(
        "upgrades.Cluster", on_delete=models.CASCADE, null=True, blank=True, related_name="maintenance_windows"
    )
    # The label selecting the clusters a window without a cluster applies to (both empty when `cluster` is set).
    label_key = models.CharField(max_length=63, blank=True)
    label_value = models.CharField(max_length=63, blank=True)
    name = models.CharField(max_length=100, blank=True)
    days = models.PositiveSmallIntegerField()
    start = models.TimeField()
    end = models.TimeField()
    time_zone = models.CharField(max_length=64)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(cluster__isnull=False, label_key="", label_value="")
                    | (Q(cluster__isnull=True) & ~Q(label_key="") & ~Q(label_value=""))
                ),
                name="window_cluster_or_label",
            ),
            models.CheckConstraint(condition=Q(days__gte=1, days__lte=ALL_DAYS), name="window_days_mask"),
            models.CheckConstraint(condition=~Q(start=models.F("end")), name="window_start_is_not_end"),
        ]
        indexes = [models.Index(fields=["label_key", "label_value"], name="window_label")]

    def __str__(self):
        return self.name or f"window {self.pk}"

    @property
    def weekdays(self) -> tuple[int, ...]:
        """The days it opens on, 0 (Monday) to 6 (Sunday)."""
        return tuple(day for day in range(7) if self.days >> day & 1)

    @property
    def label(self) -> str:
        """`key=value` for a label's window, "" for a cluster's own."""
        return f"{self.label_key}={self.label_value}" if self.label_key else ""
