"""Filtering and exporting the run history and the audit log (shared by their views and their CSV exports)."""

import csv
import re
from datetime import datetime, time, timedelta

from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.utils import timezone

from upgrades.models import AuditEntry, Dag
from upgrades.models.dag import State
from upgrades.snapshots import iso_time

ACTIVE_STATES = (State.PENDING, State.READY, State.RUNNING)
# Keys never rendered from an audit entry's detail, whatever a writer put there.
SECRET_KEY_PARTS = ("password", "secret", "digest", "private", "authorization", "credential")
HEX_DIGEST = re.compile(r"^[0-9a-f]{40,}$")


def _day_bounds(form):
    """The filter's dates as an aware half-open interval [start, end) in the current time zone."""
    zone = timezone.get_current_timezone()
    start = form.cleaned_data.get("date_from")
    end = form.cleaned_data.get("date_to")
    return (
        timezone.make_aware(datetime.combine(start, time.min), zone) if start else None,
        timezone.make_aware(datetime.combine(end + timedelta(days=1), time.min), zone) if end else None,
    )


def page_of(queryset, number, per_page):
    """Paginator.get_page(number) whose rows are read in two steps: the page's ids from the ordering's index (an
    index-only read, however deep the page), then those rows with their joins, instead of walking and joining
    every row before the page."""
    page = Paginator(queryset.values_list("pk", flat=True), per_page).get_page(number)
    page.object_list = list(queryset.filter(pk__in=list(page.object_list)))
    return page


RUN_LIST_DEFERRED = ("plan", "verification", "mirror_contact")


def filter_runs(form):
    # The list and its CSV show none of a run's large JSON (its frozen plan, verification, mirror contact).
    runs = Dag.objects.select_related("cluster").defer(*RUN_LIST_DEFERRED).order_by("-created_at", "-id")
    if not form.is_valid():
        return runs.none()
    data = form.cleaned_data
    if data.get("cluster"):
        runs = runs.filter(cluster__name=data["cluster"])
    if data.get("state"):
        runs = runs.filter(state=data["state"])
    if data.get("holding"):
        runs = runs.filter(holds_lock=True)
    if data.get("mode"):
        runs = runs.filter(mode=data["mode"])
    if data.get("actor"):
        runs = runs.filter(actor_label__icontains=data["actor"].strip())
    start, end = _day_bounds(form)
    if start:
        runs = runs.filter(created_at__gte=start)
    if end:
        runs = runs.filter(created_at__lt=end)
    return runs


def run_duration(dag, now=None):
    """Seconds from creation to the end (finished or failed), or to now while active; None if unknown."""
    if dag.state in ACTIVE_STATES:
        end = now or timezone.now()
    elif dag.end_time and dag.end_time >= dag.created_at:
        end = dag.end_time
    else:
        return None
    return max(0, (end - dag.created_at).total_seconds())


def with_durations(runs):
    now = timezone.now()
    for dag in runs:
        dag.duration_seconds = run_duration(dag, now)
    return runs


def filter_audit(form):
    # An entry shows its run by id only (dag_id): no join of the run's row and its JSON.
    entries = AuditEntry.objects.select_related("cluster").order_by("-at", "-id")
    if not form.is_valid():
        return entries.none()
    data = form.cleaned_data
    if data.get("actor"):
        entries = entries.filter(actor_label__icontains=data["actor"].strip())
    if data.get("action"):
        entries = entries.filter(action=data["action"])
    if data.get("cluster"):
        entries = entries.filter(cluster__name=data["cluster"])
    if data.get("outcome"):
        entries = entries.filter(outcome=data["outcome"])
    start, end = _day_bounds(form)
    if start:
        entries = entries.filter(at__gte=start)
    if end:
        entries = entries.filter(at__lt=end)
    return entries


def audit_actions():
    return list(AuditEntry.objects.order_by("action").values_list("action", flat=True).distinct())


def safe_detail(detail):
    """An audit entry's detail with any secret-looking key masked (entries should hold none; this is a backstop)."""
    if isinstance(detail, dict):
        return {
            key: "••••" if any(part in str(key).lower() for part in SECRET_KEY_PARTS) else safe_detail(value)
            for key, value in detail.items()
        }
    if isinstance(detail, list):
        return [safe_detail(item) for item in detail]
    return detail


def _shorten(value):
    text = str(value)
    return text[:12] + "…" if HEX_DIGEST.match(text) else text


def detail_text(detail, *, short=False):
    """key=value pairs; `short` abbreviates long hex digests for the page (the CSV keeps them whole)."""
    detail = safe_detail(detail or {})
    if not isinstance(detail, dict):
        return str(detail)
    return ", ".join(f"{key}={_shorten(value) if short else value}" for key, value in detail.items())


def _cell(value):
    """A CSV cell that a spreadsheet will not run as a formula (reasons and labels are user text)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    def write(self, value):
        return value


def csv_response(filename, header, rows):
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([_cell(value) for value in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def run_csv_rows(runs):
    now = timezone.now()
    for dag in runs.iterator(chunk_size=500):
        yield [
            dag.pk,
            dag.generic_id,
            dag.cluster.name,
            dag.kind,
            dag.name,
            dag.state,
            dag.operator,
            dag.mode,
            dag.from_version,
            dag.to_version,
            " > ".join(hop.get("build_version", "") for hop in dag.route or []),
            dag.actor_label,
            dag.reason,
            iso_time(dag.created_at),
            iso_time(dag.end_time) if dag.state not in ACTIVE_STATES else "",
            "" if (seconds := run_duration(dag, now)) is None else int(seconds),
        ]


RUN_CSV_HEADER = [
    "dag_id", "generic_id", "cluster", "kind", "name", "state", "operator", "mode", "from_version", "to_version", "route",
    "actor", "reason", "started", "ended", "duration_seconds",
]  # fmt: skip


def audit_csv_rows(entries):
    for entry in entries.iterator(chunk_size=500):
        yield [
            iso_time(entry.at),
            entry.actor_label,
            entry.action,
            entry.cluster.name if entry.cluster else "",
            entry.dag_id or "",
            entry.outcome,
            entry.reason,
            entry.source_address,
            entry.trace_id,
            detail_text(entry.detail),
        ]


AUDIT_CSV_HEADER = [
    "at",
    "actor",
    "action",
    "cluster",
    "run",
    "outcome",
    "reason",
    "source_address",
    "trace_id",
    "detail",
]
