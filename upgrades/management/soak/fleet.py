"""The soak's simulated fleet on its private database: C clusters on the demo's start build, the target's
packages (real RPMs made by the demo's writer and stored through the upload service), a viewer account whose
session the watchers use, and the rewind that lets a cluster be upgraded again.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.utils.module_loading import import_string

from upgrades.audit import Actor
from upgrades.demo.fleet import ARCH, BUILDS, DEP_FILE, DISTRIBUTION, TARGET, release_of
from upgrades.demo.rpms import write_oceanbase_rpms
from upgrades.models import Cluster, Server, Zone
from upgrades.models.cluster import Edition
from upgrades.roles import ensure_role_groups
from upgrades.services.clusters import cluster_create_simulated
from upgrades.services.packages import package_upload

START_VERSION = "4.2.1.0"  # one hop to TARGET: the 30-stage rolling upgrade of a 3-zone cluster
ACTOR = Actor.system("soak")
WATCHER = "soak-watcher"


@dataclass(frozen=True)
class SoakCluster:
    cluster: Cluster
    # What every server looked like when created: (id, build_version, agent_version), restored by rewind().
    servers: tuple[tuple[int, str, str], ...]


def create_clusters(count: int, *, zones: int, servers_per_zone: int) -> list[SoakCluster]:
    clusters = []
    for index in range(1, count + 1):
        cluster = cluster_create_simulated(
            name=f"soak-{index:03d}",
            edition=Edition.COMMUNITY,
            zones=zones,
            servers_per_zone=servers_per_zone,
            version=START_VERSION,
            build=BUILDS[START_VERSION],
            arch=ARCH,
            distribution=DISTRIBUTION,
            actor=ACTOR,
        )
        servers = tuple(cluster.servers.order_by("id").values_list("id", "build_version", "agent_version"))
        clusters.append(SoakCluster(cluster, servers))
    return clusters


def store_target_packages(work_dir: Path) -> None:
    """The target build's community RPMs, with the shipped dep file, through the upload service."""
    with tempfile.TemporaryDirectory(prefix="soak-rpms-", dir=work_dir) as tmp:
        paths = write_oceanbase_rpms(
            Path(tmp),
            edition=Edition.COMMUNITY,
            version=TARGET,
            release=release_of(TARGET),
            arch=ARCH,
            dep_yaml=DEP_FILE.read_text(),
            binary_size=4096,
        )
        for path in paths:
            package_upload(path=path, filename=path.name, actor=ACTOR)


def target() -> tuple[str, str]:
    return TARGET, release_of(TARGET)


def rewind(soak_cluster: SoakCluster) -> None:
    """Put a simulated cluster back as it was created (every server on the start build, running, every zone
    ACTIVE) so it can be upgraded again. Only for a cluster no DAG holds: the soak calls it between upgrades.
    A real cluster cannot be rewound; a simulated one is rows, and this writes them back."""
    cluster = soak_cluster.cluster
    with transaction.atomic():
        if cluster.dags.filter(holds_lock=True).exists():
            raise RuntimeError(f"{cluster.name} is under maintenance; it cannot be rewound")
        Zone.objects.filter(cluster=cluster).update(status=Zone.Status.ACTIVE)
        for server_id, build_version, agent_version in soak_cluster.servers:
            Server.objects.filter(pk=server_id).update(
                build_version=build_version,
                agent_version=agent_version,
                status=Server.Status.ACTIVE,
                process_running=True,
            )


def watcher_session() -> str:
    """A signed-in session of a viewer account, as the Cookie header value a browser would send."""
    ensure_role_groups()
    user = User.objects.filter(username=WATCHER).first()
    if user is None:
        user = User.objects.create_user(username=WATCHER)  # no usable password: only this session signs it in
        user.groups.add(Group.objects.get(name="viewer"))
    store = import_string(f"{settings.SESSION_ENGINE}.SessionStore")()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.set_expiry(24 * 3600)
    store.create()
    return f"{settings.SESSION_COOKIE_NAME}={store.session_key}"
