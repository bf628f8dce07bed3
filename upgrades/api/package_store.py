"""The package store as obshell's package routes serve it: the upload's PascalCase record and the
snake_case listing. Who may see, upload and delete what is upgrades.services.packages's to say."""

import math

from upgrades.api.gotime import ZERO_TIME, go_time
from upgrades.services.packages import packages_visible_to

OBSHELL_CHUNK_SIZE = 8 * 1024 * 1024 - 1  # obshell stores packages in chunks of 8 MiB - 1 bytes (spec 3.1)


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


def package_listing(*, actor):
    """What the caller may use, newest first (spec 3.1). A package's identity is unique, so each
    name-version-release.arch appears once."""
    return [package_info(package) for package in packages_visible_to(actor=actor).order_by("-id")]
