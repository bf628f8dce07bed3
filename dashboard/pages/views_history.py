"""History pages: every run, and the audit log. Both filterable and exportable as CSV."""

from django.core.paginator import Paginator
from django.shortcuts import render

from dashboard.pages.access import role_required
from upgrades.models import AuditEntry, Dag


@role_required("viewer")
def run_list(request):
    runs = Dag.objects.select_related("cluster").order_by("-created_at", "-id")
    page = Paginator(runs, 50).get_page(request.GET.get("page"))
    return render(request, "pages/runs.html", {"page": page})


@role_required("viewer")
def audit_list(request):
    entries = AuditEntry.objects.select_related("cluster").order_by("-at", "-id")
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    return render(request, "pages/audit.html", {"page": page})
