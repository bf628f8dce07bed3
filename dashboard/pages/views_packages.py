"""The package store: every uploaded RPM, an upload form and deletion for admins (the rules, an unfinished
DAG's packages kept included, are upgrades.services.packages's)."""

from django.contrib import messages
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from dashboard.pages.access import role_required
from dashboard.pages.forms import PackageUploadForm
from dashboard.pages.route_picture import dep_file_sources, store_picture
from upgrades.audit import Actor, source_address
from upgrades.errors import ObshellError
from upgrades.packages import limits
from upgrades.planning import route_graph
from upgrades.services import packages as package_service


def _actor(request):
    return Actor.for_user(request.user, source_address=source_address(request))


def _render(request, *, form=None, refusal=None, status=200):
    packages = list(
        package_service.packages_visible_to(actor=_actor(request))
        .select_related("uploaded_by_cluster", "uploaded_by_user")
        .order_by("name", "-version", "-release", "arch")
    )
    context = {
        "packages": packages,
        "form": form or PackageUploadForm(),
        "refusal": refusal,
        **_graph_context(request, packages),
    }
    return render(request, "pages/packages.html", context, status=status)


def _graph_context(request, packages):
    """The version graph of the dep file `?graph=<package id>` names (default: the newest stored one; with none
    stored, the file this dashboard ships)."""
    sources = dep_file_sources(packages)
    chosen = next((p for p in sources if str(p.pk) == request.GET.get("graph", "")), sources[0] if sources else None)
    if chosen is not None:
        dep_yaml = chosen.upgrade_dep_yaml
        title = gettext("Version graph of the dep file in %(rpm)s") % {"rpm": chosen.rpm_name}
    else:
        dep_yaml = route_graph.shipped_dep_yaml()
        title = gettext("Version graph of the dep file this dashboard ships")
    picture = store_picture(dep_yaml=dep_yaml, packages=packages, title=title)
    return {"graph_sources": sources, "graph_source": chosen, "route_picture": picture}


@role_required("viewer")
def package_list(request):
    return _render(request)


@csrf_exempt
@require_POST
def package_upload(request):
    # Uploads go straight to a temporary file, never into memory, and stop at PACKAGE_MAX_BYTES; the handler
    # must be set before anything (the CSRF check included) reads the body, hence csrf_protect runs inside.
    handler = limits.LimitedUploadHandler(request)
    request.upload_handlers = [handler]
    return _package_upload(request, handler)


@role_required("admin")
def _package_upload(request, handler):
    if limits.declared_length(request.META) > limits.wire_allowance(encrypted=False):
        # Refused before any byte of the body is read.
        return _render(request, refusal=limits.too_large(), status=400)
    return _checked_upload(request, handler)


@csrf_protect
def _checked_upload(request, handler):
    form = PackageUploadForm(request.POST, request.FILES)
    if handler.too_large:
        for upload in request.FILES.values():
            upload.close()
        return _render(request, refusal=limits.too_large(), status=400)
    if not form.is_valid():
        return _render(request, form=form, status=400)
    upload = form.cleaned_data["file"]
    try:
        package, created = package_service.package_upload(fileobj=upload, filename=upload.name, actor=_actor(request))
    except ObshellError as error:
        return _render(request, form=PackageUploadForm(), refusal=error, status=400)
    finally:
        upload.close()
    if created:
        messages.success(
            request,
            gettext("Uploaded %(rpm)s (sha256 %(sha)s…).") % {"rpm": package.rpm_name, "sha": package.sha256[:12]},
        )
    else:
        messages.info(
            request,
            gettext("%(rpm)s is already in the store (same identity and md5): nothing new was stored.")
            % {"rpm": package.rpm_name},
        )
    if request.headers.get("X-Requested-With") == "fetch":
        # The page's upload script (which shows progress) navigates itself; the message waits in the session.
        return JsonResponse({"redirect": reverse("packages")})
    return redirect("packages")


@require_POST
@role_required("admin")
def package_delete_view(request, package_id):
    try:
        package = package_service.package_delete(package_id=package_id, actor=_actor(request))
    except ObshellError as error:
        # Refused (e.g. 500 OB.Package.InUse: an unfinished DAG needs it) or already gone: the page says why.
        messages.error(
            request, gettext("Not deleted: %(code)s: %(error)s") % {"code": error.err_code, "error": error.message}
        )
        return redirect("packages")
    messages.success(request, gettext("Deleted %(rpm)s.") % {"rpm": package.rpm_name})
    return redirect("packages")
