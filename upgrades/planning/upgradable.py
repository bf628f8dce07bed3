"""Which server builds can be upgraded: a stored package of the edition's target name is newer than the build and
its `oceanbase_upgrade_dep.yml` has a route from it (the pre-check's rule, `route_for`, without the other checks:
hop packages, zones and health are the preview's business). The fleet page filters and labels clusters with it.

A fleet runs few distinct builds, so the question is asked per (edition, build), not per cluster, and each
(dep file, from, to) answer is cached: a fleet page load plans nothing it planned before.
"""

import functools

from upgrades.errors import ObshellError
from upgrades.models import Package, Server
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


def build_can_reach(server_build: str, packages: list[tuple[str, str, str]]) -> bool:
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


def upgradable_builds() -> dict[str, set[str]]:
    """{edition: the server builds running in the fleet from which a stored package is reachable} (two queries)."""
    targets: dict[str, list[tuple[str, str, str]]] = {name: [] for name in TARGET_PACKAGE.values()}
    for name, version, release, dep_yaml in Package.objects.filter(name__in=targets).values_list(
        "name", "version", "release", "upgrade_dep_yaml"
    ):
        targets[name].append((version, release, dep_yaml))
    running = Server.objects.values_list("cluster__edition", "build_version").distinct()
    answer: dict[str, set[str]] = {edition: set() for edition in TARGET_PACKAGE}
    for edition, build in running:
        packages = targets.get(TARGET_PACKAGE.get(edition, ""), [])
        if packages and build_can_reach(build, packages):
            answer[edition].add(build)
    return answer
