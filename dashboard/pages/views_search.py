"""/search?q=: the top bar's search box. A single hit opens it; several are listed with what matched."""

from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from dashboard.pages.access import role_required
from dashboard.pages.search import search


@require_GET
@role_required("viewer")
def search_page(request):
    query = request.GET.get("q", "").strip()
    hits = search(query)
    if len(hits) == 1:
        return redirect(hits[0].url)
    return render(request, "pages/search.html", {"query": query, "hits": hits})
