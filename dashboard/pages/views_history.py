"""History pages: every run, and the audit log. Both filterable and exportable as CSV (?format=csv)."""

from django.shortcuts import render
from django.utils import timezone

from dashboard.pages import history
from dashboard.pages.access import role_required
from dashboard.pages.forms import AuditFilterForm, RunFilterForm
from upgrades.security.throttle import recent_tallies

PAGE_SIZE = 50


def _querystring(request):
    """The current filters without the page number, for pagination and export links."""
    params = request.GET.copy()
    params.pop("page", None)
    params.pop("format", None)
    return params.urlencode()


def _stamp():
    return timezone.localtime().strftime("%Y%m%d-%H%M%S")


@role_required("viewer")
def run_list(request):
    form = RunFilterForm(request.GET)
    runs = history.filter_runs(form)
    if request.GET.get("format") == "csv":
        return history.csv_response(f"runs-{_stamp()}.csv", history.RUN_CSV_HEADER, history.run_csv_rows(runs))
    page = history.page_of(runs, request.GET.get("page"), PAGE_SIZE)
    history.with_durations(page.object_list)
    context = {"form": form, "page": page, "query": _querystring(request), "filtered": bool(_querystring(request))}
    return render(request, "pages/runs.html", context)


@role_required("viewer")
def audit_list(request):
    form = AuditFilterForm(request.GET, actions=history.audit_actions())
    entries = history.filter_audit(form)
    if request.GET.get("format") == "csv":
        return history.csv_response(f"audit-{_stamp()}.csv", history.AUDIT_CSV_HEADER, history.audit_csv_rows(entries))
    page = history.page_of(entries, request.GET.get("page"), PAGE_SIZE)
    for entry in page.object_list:
        entry.detail_text = history.detail_text(entry.detail, short=True)
    context = {"form": form, "page": page, "query": _querystring(request), "filtered": bool(_querystring(request))}
    # Anonymous API auth failures are audited once per source and minute; their counts are here.
    context["auth_failures"] = recent_tallies() if page.number == 1 else []
    return render(request, "pages/audit.html", context)
