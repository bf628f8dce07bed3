"""The package store's rules, for the API, the pages and `add_package` alike: who may upload, list and
delete, a package's immutable identity, and its signature. upgrades.packages.ingest does the mechanics
(reading, validating and storing the file).

Rules (obshell keeps one store per cluster; here the store is fleet-wide, so these go beyond obshell):
* Identity is name-version-release-arch plus md5 (header+payload, signature tag 1004, which signing does not
  change). An upload of a stored identity with another md5 is refused with 400 `OB.Package.IdentityConflict`:
  nothing is stored, the refusal is audited. With the same md5 (the same file, or a signed copy of an
  unsigned one) it is the same package: the first row, its file and its signer stay, and the upload answers
  with that row (to replace a package, delete it and upload again). A unique constraint on the identity
  holds this under concurrent uploads too: the loser re-reads the winner and gets the same answer.
* Who uploaded: `uploaded_by_cluster` and `uploaded_by_token` for a cluster's token, `uploaded_by_user` for
  a browser session; commands record none. Uploads by sessions and commands form the fleet-wide store.
* A token may use (list) its cluster's uploads plus the fleet-wide store, and delete only its cluster's
  uploads. Another cluster's package is answered as not found (404 `Common.NotFound`, audited as refused);
  deleting a fleet-wide one is refused with 401 `Security.User.PermissionDenied` (the code a session without
  the role gets). When a cluster is deleted its uploads lose their cluster and join the fleet-wide store.
* A browser session needs the admin role to upload or delete, through the pages and the API alike (401
  `Security.User.PermissionDenied` in the API); any role may list everything.
* Nobody deletes a package an unfinished DAG (running or failed) needs: 500 `OB.Package.InUse`, as before.
* With PACKAGE_KEYRING set, only RPMs signed by one of its keys are accepted (upgrades.packages.signatures).
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet

from upgrades.audit import Actor, audit, audit_refusals
from upgrades.errors import ObshellError, bad_request, not_found, server_error, unauthorized
from upgrades.models import AuditEntry, Dag, Package
from upgrades.packages import names
from upgrades.packages.ingest import delete_stored_file, received_package, store_package, upload_filename
from upgrades.packages.signatures import verify_signature
from upgrades.roles import has_role

if TYPE_CHECKING:
    from upgrades.models import Cluster

ADMIN_ROLE = "admin"


def packages_visible_to(*, actor: Actor) -> QuerySet[Package]:
    """The packages `actor` may list and use: everything for users and the system; for a token, its
    cluster's uploads plus the fleet-wide store (uploads by sessions and commands)."""
    packages = Package.objects.all()
    if actor.token is not None:
        packages = packages.filter(
            Q(uploaded_by_cluster=actor.token.cluster_id)
            | Q(uploaded_by_cluster__isnull=True, uploaded_by_token__isnull=True)
        )
    return packages


def _permission_denied(what: str) -> ObshellError:
    return unauthorized("Security.User.PermissionDenied", f"Permission denied: {what}")


def _require_admin_session(actor: Actor) -> None:
    if actor.token is None and actor.user is not None and not has_role(actor.user, ADMIN_ROLE):
        raise _permission_denied(f"the {ADMIN_ROLE} role is required to change packages")


def _running_build(cluster: Cluster) -> str | None:
    server = cluster.agent_server()
    return server.build_version if server else None


def _same_identity(package: Package) -> Package | None:
    return Package.objects.filter(
        name=package.name,
        version=package.version,
        release_distribution=package.release_distribution,
        arch=package.arch,
    ).first()


def _existing_unless_conflict(existing: Package, candidate: Package) -> Package:
    if existing.md5 != candidate.md5:
        raise bad_request(
            "OB.Package.IdentityConflict",
            f"Package {candidate.rpm_name} is already in the store with md5 {existing.md5}; this file's md5 is "
            f"{candidate.md5}. A package's name, version, release and arch identify one file for the whole "
            "fleet: delete the stored package first to replace it",
        )
    return existing


def package_upload(
    *,
    actor: Actor | None = None,
    path: str | Path | None = None,
    fileobj: IO[bytes] | None = None,
    filename: str | None = None,
    cluster: Cluster | None = None,
    allowed_names: tuple[str, ...] | list[str] | None = None,
    current_build_version: str | None = None,
) -> tuple[Package, bool]:
    """Validate and store one RPM; returns (package, created). Raises ObshellError when refused (audited).

    `cluster` (the API's: a token's, or a session's /clusters/<name>/ prefix) selects obshell's rules for its
    edition's names and its running build (`allowed_names` and `current_build_version` say so directly);
    without it every edition's names are accepted. A token's upload is always its own cluster's."""
    actor = actor or Actor.system()
    filename = upload_filename(path=path, fileobj=fileobj, filename=filename)
    if actor.token is not None:
        cluster = actor.token.cluster
    with audit_refusals(
        actor=actor,
        action=AuditEntry.Action.PACKAGE_UPLOAD,
        cluster=cluster,
        reason=lambda error: error.message,
        detail=lambda error: {"filename": filename, "errCode": error.err_code},
    ):
        _require_admin_session(actor)
        if allowed_names is None and cluster is not None:
            allowed_names = names.allowed_package_names(cluster.edition)
        with received_package(
            path=path,
            fileobj=fileobj,
            filename=filename,
            allowed_names=allowed_names,
            current_build_version=current_build_version or (_running_build(cluster) if cluster else None),
        ) as received:
            signer = verify_signature(received.path, filename=filename)
            package = received.package
            existing = _same_identity(package)
            if existing is not None:
                return _existing_unless_conflict(existing, package), False
            package.signer = signer
            package.uploaded_by_token = actor.token
            package.uploaded_by_cluster = cluster if actor.token is not None else None
            package.uploaded_by_user = actor.user
            try:
                with transaction.atomic():
                    store_package(received)
                    audit(
                        actor=actor,
                        action=AuditEntry.Action.PACKAGE_UPLOAD,
                        cluster=cluster,
                        detail={"package": package.rpm_name, "sha256": package.sha256, "filename": filename},
                    )
            except IntegrityError:
                # A concurrent upload of this identity committed first: answer as if it had come before ours.
                existing = _same_identity(package)
                if existing is None:
                    raise
                return _existing_unless_conflict(existing, package), False
            return package, True


def _unfinished_user(package: Package) -> Dag | None:
    for dag in Dag.objects.filter(is_finished=False).order_by("id"):
        if any(entry.get("sha256") == package.sha256 for entry in (dag.plan or {}).get("packages", [])):
            return dag
    return None


def _refused(actor: Actor, error: ObshellError, *, package_id: int, reason: str, dag: Dag | None = None) -> None:
    audit(
        actor=actor,
        action=AuditEntry.Action.PACKAGE_DELETE,
        outcome=AuditEntry.Outcome.REFUSED,
        reason=reason,
        dag=dag,
        detail={"package_id": package_id, "errCode": error.err_code, "message": error.message},
    )
    raise error


def package_delete(*, package_id: int, actor: Actor | None = None) -> Package:
    """Delete a package (row and file) if `actor` may and no unfinished DAG needs it; returns the deleted
    package (without its id). Refusals are audited."""
    actor = actor or Actor.system()
    missing = not_found("Common.NotFound", f"Element not found: package {package_id}")
    try:
        _require_admin_session(actor)
    except ObshellError as error:
        _refused(actor, error, package_id=package_id, reason="admin role required")
    with transaction.atomic():
        package = Package.objects.select_for_update().filter(pk=package_id).first()
        if package is None:
            raise missing
        refusal, reason, dag = None, "", None
        if not packages_visible_to(actor=actor).filter(pk=package.pk).exists():
            refusal, reason = missing, "another cluster's package"
        elif actor.token is not None and package.uploaded_by_cluster_id != actor.token.cluster_id:
            refusal = _permission_denied(f"package {package.rpm_name} was not uploaded by this cluster")
            reason = "not uploaded by this cluster"
        elif (dag := _unfinished_user(package)) is not None:
            refusal = server_error(
                "OB.Package.InUse",
                f"Package {package.rpm_name} is needed by the unfinished DAG '{dag.name}' ({dag.generic_id})",
            )
            reason = "needed by an unfinished DAG"
        if refusal is None:
            detail = {"package": package.rpm_name, "sha256": package.sha256}
            package.delete()
            audit(actor=actor, action=AuditEntry.Action.PACKAGE_DELETE, detail=detail)
    if refusal is not None:
        # Audited outside the transaction above, so the refusal's row survives.
        _refused(actor, refusal, package_id=package_id, reason=reason, dag=dag)
    delete_stored_file(package)
    return package


__all__ = ["package_delete", "package_upload", "packages_visible_to"]
