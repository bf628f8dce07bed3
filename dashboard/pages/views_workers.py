"""The worker registry (admins): every worker group's host, pid, threads, heartbeat age and held sub-tasks,
stale ones marked; and the periodic jobs with their last runner."""

from django.conf import settings
from django.shortcuts import render

from dashboard.pages.access import role_required
from upgrades.operations import selectors


@role_required("admin")
def worker_list(request):
    rows = selectors.worker_rows()
    context = {
        "rows": rows,
        "stale_count": sum(1 for row in rows if row.stale),
        "stale_after": int(selectors.stale_after().total_seconds()),
        "lease_seconds": settings.WORKER_LEASE_SECONDS,
        "jobs": selectors.periodic_job_rows(),
    }
    return render(request, "pages/workers.html", context)
