"""Package routes (spec 3.1): upload (the body decrypted to disk, then the multipart parsed from there),
the unencrypted upload `POST /api/v1/package`, listing and deletion."""

import hashlib
import tempfile
from pathlib import Path

from django.conf import settings
from django.http.multipartparser import MultiPartParser, MultiPartParserError

from upgrades.api import package_store
from upgrades.api.base import ObshellView
from upgrades.api.body import READ_CHUNK, copy_body
from upgrades.api.envelope import contents
from upgrades.api.schemas import BODY_500, documented
from upgrades.errors import ObshellError, bad_request, server_error, unauthorized
from upgrades.models.cluster import Backend
from upgrades.packages import limits
from upgrades.planning.gostrconv import go_atoi
from upgrades.security.crypto import HeaderDecryptError, rsa_decrypt
from upgrades.services.packages import package_delete, package_upload
from upgrades.services.real_upgrades import packages_push


def _form_error(detail):
    """obshell's answer when `c.Request.FormFile("file")` fails (ob/agent/api/obcluster_handler.go): a missing
    part, a body that is not multipart or a malformed one alike, 500 (the code's kind is `unexpected`)."""
    return server_error("Request.File.Missing", f"File 'file' in the request is missing: {detail}")


class PackageUploadView(ObshellView):
    # POST /api/v1/upgrade/package: under v2 the whole multipart body is AES-encrypted (spec 2.2).
    body_encrypted = True

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
        errors_500=(
            *BODY_500,
            "Request.File.Missing",
            "OB.Package.MissingFile",
            "OB.Package.Keyring.Unavailable",
            "Common.Unexpected",
        ),
    )
    def post(self, request, **kwargs):
        cluster = self.require_cluster()
        django_request = self.django_request
        if not django_request.META.get("CONTENT_TYPE", "").startswith("multipart/form-data"):
            raise _form_error("request Content-Type isn't multipart/form-data")
        limits.refuse_declared(django_request.META, encrypted=self._encrypted())
        upload = self._uploaded_file(django_request)
        try:
            self.verify_file(upload)
            package, _created = package_upload(
                fileobj=upload, filename=Path(upload.name).name, cluster=cluster, actor=self.caller.actor
            )
        finally:
            upload.close()
        if cluster.backend == Backend.OBSHELL:
            # A real cluster's agent gets the file in the same request, so the SDK's flow (upload, then upgrade)
            # works unchanged through us.
            packages_push(cluster=cluster, packages=[package])
        return self.ok(self.record(package))

    def _encrypted(self):
        return self.body_encrypted and self.caller.aes_keys is not None

    def verify_file(self, upload):
        """Checks of the received file before it is stored (none on this route)."""

    def record(self, package):
        return package_store.upload_record(package)

    def _uploaded_file(self, django_request):
        if hasattr(django_request, "_files"):
            # A session request whose CSRF check already parsed the (plain) form, with the limited handler.
            files = django_request.FILES
        else:
            handlers = [self.upload_handler]
            body = limits.LimitedReader(django_request, limits.wire_allowance(encrypted=self._encrypted()))
            with tempfile.TemporaryFile(dir=settings.FILE_UPLOAD_TEMP_DIR) as plain:
                size = copy_body(body, self.caller if self._encrypted() else None, plain)
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


FILE_SHA256_HEADER = "HTTP_X_OCS_FILE_SHA256"


class PlainPackageUploadView(PackageUploadView):
    """POST /api/v1/package (obshell's newPkgUploadHandler and VerifyFile middleware, ob/agent/api/): the
    multipart body travels unencrypted, and `X-OCS-File-SHA256` carries the file's lowercase hex SHA-256,
    RSA-encrypted with the public key in the auth header's block scheme; the answer is snake_case.

    Deviation: obshell puts this route outside its Verify group, so anyone holding the public key (which
    /api/v1/secret gives to anyone) may upload. Here it needs a token or a session like every other upload
    (the same package rules, audit and limits as POST /api/v1/upgrade/package); a valid token's header body
    is simply not decrypted. The checks keep obshell's order: the `file` part (500 Request.File.Missing),
    then the SHA-256 header (an empty one is a mismatch, 401 Security.Authentication.File.Sha256Mismatch; an
    unreadable one 401 Common.Unauthorized, code 10008)."""

    body_encrypted = False

    @documented(
        summary="Upload an rpm unencrypted (multipart field 'file', X-OCS-File-SHA256 header)",
        request={"multipart/form-data": "PackageUploadForm"},
        data="UpgradePkgInfo",
        errors_500=(
            *BODY_500,
            "Request.File.Missing",
            "OB.Package.MissingFile",
            "OB.Package.Keyring.Unavailable",
            "Common.Unexpected",
        ),
    )
    def post(self, request, **kwargs):
        return super().post(request, **kwargs)

    def verify_file(self, upload):
        digest = hashlib.sha256()
        upload.seek(0)
        while chunk := upload.read(READ_CHUNK):
            digest.update(chunk)
        upload.seek(0)
        claimed = self.django_request.META.get(FILE_SHA256_HEADER, "")
        accepted = ""
        if claimed:
            try:
                accepted = rsa_decrypt(claimed).decode("utf-8", "replace")
            except HeaderDecryptError as exc:
                raise unauthorized("Common.Unauthorized", f"Unauthorized: decrypt file sha256 failed: {exc}") from None
        if accepted != digest.hexdigest():
            raise unauthorized("Security.Authentication.File.Sha256Mismatch", "File SHA256 mismatch", code=None)

    def record(self, package):
        return package_store.package_info(package)


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
        # pkgDeleteHandler and DeleteUpgradePkgInfoAndChunkTx (ob/agent/api/obcluster_handler.go,
        # ob/agent/service/obcluster/obcluster.go): strconv.Atoi first (its error appended by gin's Sprintf as
        # Go prints an extra argument), then a non-positive id is "empty"; deleting an id that names nothing
        # deletes no row and succeeds. Another cluster's package answers the same (audited as refused).
        pkg_id, error = go_atoi(package_id)
        if error:
            raise bad_request("Request.Query.Param.Illegal", f"Query parameter 'id' is illegal%!(EXTRA string={error})")
        if pkg_id <= 0:
            raise bad_request("Request.Path.Param.Empty", "Path parameter 'pkg_id' is empty")
        try:
            package_delete(package_id=pkg_id, actor=self.caller.actor)
        except ObshellError as exc:
            if exc.err_code != "Common.NotFound":
                raise
        return self.ok()
