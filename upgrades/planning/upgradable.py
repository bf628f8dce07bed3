"""Which server builds can be upgraded: a stored package of the edition's target name is newer than the build and
its `oceanbase_upgrade_dep.yml` has a route from it (the pre-check's rule, `route_for`, without the other checks:
hop packages, zones and health are the preview's business). The fleet page filters and labels clusters with it.

A fleet runs few distinct builds, so the question is asked per (edition, build), not per cluster, and each
(build, stored packages) answer is cached: a fleet page load plans nothing it planned before.
"""

import functools

from upgrades.errors import ObshellError
from upgrades.models import Package
from upgrades.models.cluster import TARGET_PACKAGE
from upgrades.planning.route import route_for
from upgrades.planning.versions import build_version_key, split_server_build


@functools.lru_cache(maxsize=4096)
def _route_exists(dep_yaml: str, current_version: str, current_build: str, target_version: str, target_build: str):
    try:
        route_for(
            dep_yaml,
            current_version=current_version,
            current_build=current_build,
            target_version=target_version,
            target_build=target_build,
        )
    except (ObshellError, ValueError):
        return False
    return True


@functools.lru_cache(maxsize=4096)
def build_can_reach(server_build: str, packages: tuple[tuple[str, str, str], ...]) -> bool:
    """True if a route leads from `server_build` (the observer's `<version>_<build>`) to one of `packages`
    ((version, build, dep file) of the edition's target package)."""
    current_version, current_build = split_server_build(server_build)
    current = build_version_key(f"{current_version}-{current_build}")
    for version, build, dep_yaml in packages:
        if build_version_key(f"{version}-{build}") <= current:
            continue
        if _route_exists(dep_yaml or "", current_version, current_build, version, build):
            return True
    return False


def upgradable_builds(builds: list[str]) -> dict[str, set[str]]:
    """{edition: those of these server builds from which a stored package of the edition is reachable} (one small
    query; the dep files are read only for a store not seen before)."""
    stored: dict[str, list[int]] = {name: [] for name in TARGET_PACKAGE.values()}
    for pk, name in Package.objects.filter(name__in=stored).order_by("id").values_list("id", "name"):
        stored[name].append(pk)
    answer: dict[str, set[str]] = {}
    for edition, name in TARGET_PACKAGE.items():
        ids = tuple(stored[name])
        answer[edition] = {build for build in builds if ids and build_can_reach(build, _targets(ids))}
    return answer


@functools.lru_cache(maxsize=64)
def _targets(package_ids: tuple[int, ...]) -> tuple[tuple[str, str, str], ...]:
    """(version, build, dep file) of these packages; a package's identity and file never change (the store
    refuses a different file under the same name), so its id stands for them."""
    rows = (
        Package.objects.filter(pk__in=package_ids).order_by("id").values_list("version", "release", "upgrade_dep_yaml")
    )
    return tuple(rows)
