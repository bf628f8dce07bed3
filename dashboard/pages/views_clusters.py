"""The fleet: the cluster list and a cluster's page (topology, recent runs, upgrade form, API tokens)."""

from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string

from dashboard.pages.access import role_required
from dashboard.pages.selectors import cluster_rows, run_counters


@role_required("viewer")
def cluster_list(request):
    return render(request, "pages/clusters.html", {"rows": cluster_rows()})


@role_required("viewer")
def counters(request):
    """The top-bar counters as an HTML fragment, for live refreshes on pages without other live regions."""
    html = render_to_string("pages/_counters.html", run_counters(), request=request)
    return HttpResponse(f'<div data-live-region="counters">{html}</div>')


@role_required("viewer")
def cluster_detail(request, name):
    from django.shortcuts import get_object_or_404

    from upgrades.models import Cluster

    cluster = get_object_or_404(Cluster, name=name)
    return render(request, "pages/cluster.html", {"cluster": cluster})
