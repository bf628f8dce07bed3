"""Package routes (spec 3.1): upload (the body decrypted to disk, then the multipart parsed from there),
listing and deletion."""

import tempfile
from pathlib import Path

from django.conf import settings
from django.http.multipartparser import MultiPartParser, MultiPartParserError

from upgrades.api import package_store
from upgrades.api.base import ObshellView
from upgrades.api.body import copy_body
from upgrades.api.envelope import contents
from upgrades.api.schemas import BODY_500, documented
from upgrades.errors import bad_request
from upgrades.models.cluster import Backend
from upgrades.packages import limits
from upgrades.services.packages import package_delete, package_upload
from upgrades.services.real_upgrades import packages_push


def _form_error(detail):
    return bad_request("Common.IllegalArgument", f"Illegal argument: {detail}")


class PackageUploadView(ObshellView):
    def initial(self, request, *args, **kwargs):
        # Set before anything reads the body (a session's CSRF check parses the form): the upload goes to a
        # temporary file and stops at PACKAGE_MAX_BYTES.
        self.upload_handler = limits.LimitedUploadHandler(request._request)
        request._request.upload_handlers = [self.upload_handler]
        super().initial(request, *args, **kwargs)

    @documented(
        summary="Upload an rpm (multipart field 'file'; the whole body AES-encrypted under v2)",
        request={"multipart/form-data": "PackageUploadForm"},
        data="UpgradePkg",
        errors_500=(*BODY_500, "OB.Package.MissingFile", "OB.Package.Keyring.Unavailable", "Common.Unexpected"),
    )
    def post(self, request, **kwargs):
        cluster = self.require_cluster()
        django_request = self.django_request
        if not django_request.META.get("CONTENT_TYPE", "").startswith("multipart/form-data"):
            raise _form_error("request Content-Type isn't multipart/form-data")
        limits.refuse_declared(django_request.META, encrypted=self.caller.aes_keys is not None)
        upload = self._uploaded_file(django_request)
        try:
            package, _created = package_upload(
                fileobj=upload, filename=Path(upload.name).name, cluster=cluster, actor=self.caller.actor
            )
        finally:
            upload.close()
        if cluster.backend == Backend.OBSHELL:
            # A real cluster's agent gets the file in the same request, so the SDK's flow (upload, then upgrade)
            # works unchanged through us.
            packages_push(cluster=cluster, packages=[package])
        return self.ok(package_store.upload_record(package))

    def _uploaded_file(self, django_request):
        if hasattr(django_request, "_files"):
            # A session request whose CSRF check already parsed the (plain) form, with the limited handler.
            files = django_request.FILES
        else:
            handlers = [self.upload_handler]
            body = limits.LimitedReader(
                django_request, limits.wire_allowance(encrypted=self.caller.aes_keys is not None)
            )
            with tempfile.TemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR) as plain:
                size = copy_body(body, self.caller, plain)
                plain.seek(0)
                meta = {"CONTENT_TYPE": django_request.META["CONTENT_TYPE"], "CONTENT_LENGTH": str(size)}
                try:
                    _fields, files = MultiPartParser(meta, plain, handlers, "utf-8").parse()
                except MultiPartParserError as exc:
                    raise _form_error(str(exc)) from None
        upload = files.get("file")
        if self.upload_handler.too_large:
            for other in files.values():
                other.close()
            raise limits.too_large()
        if upload is None:
            for other in files.values():
                other.close()
            raise _form_error("http: no such file")
        return upload


class PackageInfoView(ObshellView):
    @documented(summary="Uploaded packages, newest first", data="UpgradePkgInfoList")
    def get(self, request, **kwargs):
        return self.ok(contents(package_store.package_listing(actor=self.caller.actor)))


class PackageDeleteView(ObshellView):
    @documented(
        summary="Delete an uploaded package (refused while an unfinished DAG needs it)",
        errors_500=("OB.Package.InUse",),
    )
    def delete(self, request, package_id, **kwargs):
        if not package_id.isascii() or not package_id.isdigit():
            raise bad_request("Common.IllegalArgument", f"Illegal argument: package id '{package_id}' is not a number")
        package_delete(package_id=int(package_id), actor=self.caller.actor)
        return self.ok()
