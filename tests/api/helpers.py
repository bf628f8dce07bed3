"""Real packages for API tests: written by the project's RPM writer and ingested as an upload would be."""

from pathlib import Path

import upgrades.planning
from upgrades.demo.rpms import write_oceanbase_rpms
from upgrades.packages.ingest import package_ingest

TARGET_VERSION = "4.3.0.1"
TARGET_RELEASE = "101000062023110109.el7"
TARGET_BUILD = "4.3.0.1_101000062023110109"
DEP_YAML = Path(upgrades.planning.__file__).parent / "depfiles" / "oceanbase_upgrade_dep.yml"


def write_target_rpms(
    directory, *, version=TARGET_VERSION, release=TARGET_RELEASE, binary_size=64 * 1024, compression="xz"
):
    return write_oceanbase_rpms(
        directory,
        edition="community",
        version=version,
        release=release,
        arch="x86_64",
        dep_yaml=DEP_YAML.read_text(),
        binary_size=binary_size,
        compression=compression,
    )


def ingest_target_packages(directory, **kw):
    return [package_ingest(path=path, filename=path.name)[0] for path in write_target_rpms(directory, **kw)]


def wait_until_running(dag_id, node_name, *, timeout=60):
    """Poll (with a deadline) until the engine is inside `node_name` of the DAG, e.g. a hanging step."""
    import time

    from upgrades.models import SubTask

    deadline = time.monotonic() + timeout
    while not SubTask.objects.filter(dag_id=dag_id, node__name=node_name, state="RUNNING").exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"DAG {dag_id} did not reach {node_name!r} within {timeout}s")
        time.sleep(0.05)
