"""The demo fleet `make run` seeds: clusters at older builds, and the packages to upgrade each along a real route.

Idempotent: clusters, packages and accounts that exist are left alone. Packages are generated in Python (no
rpmbuild) and stored through the same ingest as uploads; a package already in the store is not regenerated.
"""

import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.contrib.auth.models import Group, User

from upgrades import planning
from upgrades.audit import Actor
from upgrades.demo.rpms import write_obshell_rpm, write_oceanbase_rpms
from upgrades.models import Cluster, Dag
from upgrades.models.cluster import REQUIRED_PACKAGES, Edition
from upgrades.packages.selectors import find_package
from upgrades.roles import ROLES, ensure_role_groups
from upgrades.services.clusters import cluster_create_simulated
from upgrades.services.packages import package_upload

# The dep file the planning code ships (OceanBase's real upgrade history), packed into the demo target rpms.
DEP_FILE = Path(planning.__file__).parent / "depfiles" / "oceanbase_upgrade_dep.yml"
DISTRIBUTION = "el7"
ARCH = "x86_64"

# Builds of the versions the demo uses (version -> build number).
BUILDS = {
    "4.2.0.0": "101000032023091319",
    "4.2.1.0": "100000102023092807",
    "4.2.1.2": "102000042023120514",
    "4.3.0.1": "100000242024032211",
}
TARGET = "4.3.0.1"


@dataclass(frozen=True)
class DemoCluster:
    name: str
    edition: str
    zones: int
    servers_per_zone: int
    version: str
    mode: str
    story: str

    @property
    def build(self):
        return BUILDS[self.version]


DEMO_CLUSTERS = (
    DemoCluster(
        "demo-hangzhou", Edition.COMMUNITY, 3, 1, "4.2.1.0", Dag.Mode.ROLLING, "one hop, the 30-stage rolling sample"
    ),
    DemoCluster(
        "demo-shanghai",
        Edition.COMMUNITY,
        3,
        2,
        "4.2.0.0",
        Dag.Mode.ROLLING,
        "two hops: 4.2.1.2 is a barrier from 4.2.0.0",
    ),
    DemoCluster(
        "demo-standalone",
        Edition.STANDALONE,
        1,
        1,
        "4.2.0.0",
        Dag.Mode.STOPSERVICE,
        "stop-service, through the 4.2.1.2 barrier",
    ),
)
# Every version a demo route installs, per edition (the barrier and the target).
DEMO_PACKAGES = {Edition.COMMUNITY: ("4.2.1.2", TARGET), Edition.STANDALONE: ("4.2.1.2", TARGET)}
# The obshell rpm "Upgrade obshell" offers: a later build of the target's obshell, newer than every demo agent
# (each runs the obshell its OB build came with) before and after the demo's OB upgrade.
DEMO_OBSHELL = ("4.3.0.1", "100000252024041516")


def release_of(version):
    return f"{BUILDS[version]}.{DISTRIBUTION}"


@dataclass
class SeedReport:
    clusters: list
    created_clusters: list
    packages: list
    created_packages: int
    passwords: dict


def _ensure_accounts():
    ensure_role_groups()
    passwords = {}
    for role in ROLES:
        if User.objects.filter(username=role).exists():
            continue
        password = secrets.token_urlsafe(12)
        user = User.objects.create_user(username=role, password=password)
        user.groups.add(Group.objects.get(name=role))
        passwords[role] = password
    return passwords


def ensure_demo_packages(actor):
    """The packages of the demo routes in the store (generated and ingested once); returns (stored, created)."""
    dep_yaml = DEP_FILE.read_text()
    stored, created = [], 0
    with tempfile.TemporaryDirectory(prefix="seed-demo-") as tmp:
        for edition, versions in DEMO_PACKAGES.items():
            names = REQUIRED_PACKAGES[edition]
            for version in versions:
                release = release_of(version)
                existing = [
                    find_package(name=n, version=version, release_distribution=release, arch=ARCH) for n in names
                ]
                if all(existing):
                    stored += existing
                    continue
                paths = write_oceanbase_rpms(
                    Path(tmp) / edition / version,
                    edition=edition,
                    version=version,
                    release=release,
                    arch=ARCH,
                    dep_yaml=dep_yaml,
                )
                kept = {package.rpm_name: package for package in existing if package is not None}
                for path in paths:
                    if path.name in kept:
                        # Generated files differ on each run: a stored identity is kept, never replaced (and a
                        # new file under it would be refused as OB.Package.IdentityConflict).
                        stored.append(kept[path.name])
                        continue
                    package, was_created = package_upload(path=path, filename=path.name, actor=actor)
                    stored.append(package)
                    created += was_created
    version, build = DEMO_OBSHELL
    release = f"{build}.{DISTRIBUTION}"
    existing = find_package(name="obshell", version=version, release_distribution=release, arch=ARCH)
    if existing is not None:
        stored.append(existing)
    else:
        with tempfile.TemporaryDirectory(prefix="seed-demo-") as tmp:
            path = write_obshell_rpm(Path(tmp), version=version, release=release, arch=ARCH)
            package, was_created = package_upload(path=path, filename=path.name, actor=actor)
        stored.append(package)
        created += was_created
    return stored, created


def seed_demo():
    actor = Actor.system("seed_demo")
    passwords = _ensure_accounts()
    clusters, created_clusters = [], []
    for demo in DEMO_CLUSTERS:
        cluster = Cluster.objects.filter(name=demo.name).first()
        if cluster is None:
            cluster = cluster_create_simulated(
                name=demo.name,
                edition=demo.edition,
                zones=demo.zones,
                servers_per_zone=demo.servers_per_zone,
                version=demo.version,
                build=demo.build,
                arch=ARCH,
                distribution=DISTRIBUTION,
                actor=actor,
            )
            created_clusters.append(cluster.name)
        clusters.append((demo, cluster))
    packages, created_packages = ensure_demo_packages(actor)
    return SeedReport(clusters, created_clusters, packages, created_packages, passwords)


def plan_command_line(demo):
    return (
        f"python manage.py plan_upgrade {demo.name} --version {TARGET} --release {release_of(TARGET)} "
        f"--mode {demo.mode}"
    )
