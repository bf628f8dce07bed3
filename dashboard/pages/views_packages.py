"""The package store: every uploaded RPM, and an upload form for admins."""

from django.shortcuts import render

from dashboard.pages.access import role_required
from upgrades.models import Package


@role_required("viewer")
def package_list(request):
    return render(request, "pages/packages.html", {"packages": Package.objects.order_by("name", "-version", "-release")})
