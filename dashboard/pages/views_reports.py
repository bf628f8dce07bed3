"""The change report of a run (/runs/<id>/report/): a print-friendly page for change-advisory boards, saved as PDF
through the browser's print dialog."""

from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from dashboard.pages.access import role_required
from dashboard.pages.report import run_report
from upgrades.models import Dag


@require_GET
@role_required("viewer")
def run_report_page(request, dag_id):
    dag = get_object_or_404(Dag.objects.select_related("cluster", "started_by"), pk=dag_id)
    return render(request, "pages/run_report.html", run_report(dag))
