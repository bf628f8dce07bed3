import pytest

from tests.planning.helpers import checks_by_key
from tests.support.builds import OB_4_3_0_1_20240322 as TARGET
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from upgrades.models import Dag
from upgrades.planning.plan import plan_upgrade

TARGET_VERSION, TARGET_RELEASE = TARGET


def holder(cluster, *, holds_lock, state="FAILED"):
    return Dag.objects.create(
        cluster=cluster,
        name="OB rolling upgrade 4.2.1.2-100000012023120101.el7",
        max_stage=30,
        state=state,
        holds_lock=holds_lock,
        version="4.2.1.2",
        release="100000012023120101.el7",
        mode="ROLLING",
        from_version="4.2.1.0-100000102023092807",
        to_version="4.2.1.2-100000012023120101",
    )


@pytest.mark.django_db
def test_an_unfinished_maintenance_dag_blocks_the_upgrade_with_its_name():
    cluster = make_cluster(zones=3)
    stock_packages(TARGET, cluster.edition)
    dag = holder(cluster, holds_lock=True)
    result = plan_upgrade(cluster=cluster, version=TARGET_VERSION, release=TARGET_RELEASE, mode="rolling")
    check = checks_by_key(result)["maintenance"]
    assert (check.err_code, check.status) == ("OB.Cluster.UnderMaintenanceWithDag", 500)
    assert check.message == (
        f"Create task 'OB rolling upgrade {TARGET_VERSION}-{TARGET_RELEASE}' failed: "
        f"OceanBase cluster is under maintenance by DAG: {dag.name}, please try again later"
    )
    assert result.error.err_code == "OB.Cluster.UnderMaintenanceWithDag"


@pytest.mark.django_db
def test_finished_dags_and_other_clusters_locks_do_not_block():
    cluster, other = make_cluster(zones=3), make_cluster(zones=3)
    stock_packages(TARGET, cluster.edition)
    holder(cluster, holds_lock=False, state="SUCCEED")
    holder(other, holds_lock=True)
    result = plan_upgrade(cluster=cluster, version=TARGET_VERSION, release=TARGET_RELEASE, mode="rolling")
    assert checks_by_key(result)["maintenance"].ok is True
    assert result.ok
