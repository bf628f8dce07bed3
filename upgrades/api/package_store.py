"""The package store as obshell's package routes serve it: the upload's PascalCase record, the snake_case
listing, and deletion refused while an unfinished DAG needs the package."""

import math

from django.db import transaction

from upgrades.api.gotime import ZERO_TIME, go_time
from upgrades.audit import audit
from upgrades.errors import not_found, server_error
from upgrades.models import AuditEntry, Dag, Package
from upgrades.packages import names

OBSHELL_CHUNK_SIZE = 8 * 1024 * 1024 - 1  # obshell stores packages in chunks of 8 MiB - 1 bytes (spec 3.1)


def allowed_names(cluster):
    """The rpm names a cluster of this edition may upload (spec 3.1, step 1)."""
    return names.allowed_package_names(cluster.edition)


def chunk_count(size):
    return max(1, math.ceil(size / OBSHELL_CHUNK_SIZE))


def upload_record(package):
    """obshell's storage model, which has no JSON tags: Go field names, GmtModify the zero time."""
    return {
        "PkgId": package.pk,
        "Name": package.name,
        "Version": package.version,
        "ReleaseDistribution": package.release_distribution,
        "Distribution": package.distribution,
        "Release": package.release,
        "Architecture": package.arch,
        "Size": package.size,
        "PayloadSize": package.payload_size,
        "ChunkCount": chunk_count(package.size),
        "Md5": package.md5,
        "UpgradeDepYaml": package.upgrade_dep_yaml,
        "GmtModify": ZERO_TIME,
    }


def package_info(package):
    return {
        "pkg_id": package.pk,
        "name": package.name,
        "version": package.version,
        "release_distribution": package.release_distribution,
        "distribution": package.distribution,
        "release": package.release,
        "architecture": package.arch,
        "size": package.size,
        "payload_size": package.payload_size,
        "chunk_count": chunk_count(package.size),
        "md5": package.md5,
        "upgrade_dep_yaml": "",
        "gmt_modify": go_time(package.uploaded_at),
    }


def package_listing():
    """Newest first, one entry per name-version-release.arch (spec 3.1)."""
    seen = set()
    listing = []
    for package in Package.objects.order_by("-id"):
        key = (package.name, package.version, package.release_distribution, package.arch)
        if key not in seen:
            seen.add(key)
            listing.append(package_info(package))
    return listing


def _unfinished_users(package):
    for dag in Dag.objects.filter(is_finished=False).order_by("id"):
        if any(entry.get("sha256") == package.sha256 for entry in (dag.plan or {}).get("packages", [])):
            return dag
    return None


def package_delete_unless_needed(*, package_id, actor):
    """Delete a package unless an unfinished DAG (a running or failed upgrade) still needs it."""
    from upgrades.packages.ingest import package_delete

    with transaction.atomic():
        package = Package.objects.select_for_update().filter(pk=package_id).first()
        if package is None:
            raise not_found("Common.NotFound", f"Element not found: package {package_id}")
        user = _unfinished_users(package)
        if user is not None:
            audit(
                actor=actor,
                action=AuditEntry.Action.PACKAGE_DELETE,
                outcome=AuditEntry.Outcome.REFUSED,
                reason="needed by an unfinished DAG",
                dag=user,
                detail={"package_id": package.pk, "rpm": package.rpm_name},
            )
            raise server_error(
                "OB.Package.InUse",
                f"Package {package.rpm_name} is needed by the unfinished DAG '{user.name}' ({user.generic_id})",
            )
        package_delete(package=package, actor=actor)
