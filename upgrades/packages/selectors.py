"""Reading the package store. Lookups take the newest row, as obshell's do (highest PkgId)."""

from collections.abc import Iterable

from django.db.models import QuerySet

from upgrades.models import Package


def find_package(*, name: str, version: str, release_distribution: str, arch: str) -> Package | None:
    """The newest package with exactly this name, version, full rpm Release and arch, or None."""
    return (
        Package.objects.filter(name=name, version=version, release_distribution=release_distribution, arch=arch)
        .order_by("-id")
        .first()
    )


def find_package_any_release(
    *, name: str, version: str, distribution: str, arch: str, exclude_releases: Iterable[str] = ()
) -> Package | None:
    """The newest package of this version and distribution whose build is not excluded (deprecated), or None.

    `exclude_releases` may hold build numbers ("100000102023092807") or full releases ("...el7").
    """
    excluded = set(exclude_releases)
    return (
        Package.objects.filter(name=name, version=version, distribution=distribution, arch=arch)
        .exclude(release__in=excluded)
        .exclude(release_distribution__in=excluded)
        .order_by("-id")
        .first()
    )


def list_packages() -> QuerySet[Package]:
    return Package.objects.order_by("-id")


def find_package_by_build(*, name: str, version: str, build: str, distribution: str, arch: str) -> Package | None:
    """The newest package of this version, build number, distribution and arch, or None: obshell's
    GetUpgradePkgInfoByVersionAndRelease (ob/agent/service/obcluster/obcluster.go), which the obshell upgrade
    uses to find its rpm."""
    return (
        Package.objects.filter(name=name, version=version, release=build, distribution=distribution, arch=arch)
        .order_by("-id")
        .first()
    )
