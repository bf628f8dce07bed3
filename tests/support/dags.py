"""Starting upgrades the way the product does: through `upgrade_start`, so planning and pre-checks run."""

from upgrades.audit import Actor
from upgrades.services.dag_start import upgrade_start


def start_upgrade(cluster, build, *, mode="ROLLING", actor=None, reason="", **kw):
    """Start an upgrade of `cluster` to `build` (a `tests.support.builds.Build`) and return its DAG. The
    packages must be stocked first (`tests.support.packages`). The actor defaults to `Actor.system("test")`;
    extra keywords (`upgrade_dir`, `freeze_server`) go to `upgrade_start`."""
    return upgrade_start(
        cluster=cluster,
        version=build.version,
        release=build.release,
        mode=mode,
        actor=actor or Actor.system("test"),
        reason=reason,
        **kw,
    )
