"""A stop-service upgrade reinstalls every observer in one parallel node, for each edition."""

import pytest

from tests.engine.helpers import assert_gapless_events
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from tests.support.spec_nodes import upgrade_names
from upgrades.engine.runner import run_dag_to_end
from upgrades.models import Server, SubTask
from upgrades.models.dag import State

TARGET_BUILD_VERSION = TARGET.build_version


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("edition", "zones", "servers_per_zone"),
    [("community", 3, 2), ("business", 2, 2), ("standalone", 1, 1)],
)
def test_stop_service_upgrade_succeeds(edition, zones, servers_per_zone):
    cluster = make_cluster(edition=edition, zones=zones, servers_per_zone=servers_per_zone)
    stock_packages(TARGET, edition)
    dag = start_upgrade(cluster, TARGET, mode="STOPSERVICE")
    names = list(dag.nodes.order_by("seq").values_list("name", flat=True))
    assert names == upgrade_names(edition=edition, mode="STOPSERVICE")
    reinstall = dag.nodes.get(action="reinstall_observer")
    assert reinstall.parallel
    assert reinstall.sub_tasks.count() == zones * servers_per_zone

    dag = run_dag_to_end(dag.pk)

    assert (dag.state, dag.operator, dag.stage) == (State.SUCCEED, "RUN", dag.max_stage)
    servers = Server.objects.filter(cluster=cluster)
    assert set(servers.values_list("build_version", "status", "process_running")) == {
        (TARGET_BUILD_VERSION, Server.Status.ACTIVE, True)
    }
    assert set(SubTask.objects.filter(dag=dag).values_list("state", "execute_times")) == {(State.SUCCEED, 1)}
    # Every server's own reinstall sub-task logged its kill and restart.
    for sub_task in reinstall.sub_tasks.all():
        lines = [log.line for log in sub_task.logs.all()]
        assert any(line.startswith("kill -9 ") for line in lines)
        assert any(line.startswith("start observer") for line in lines)
    assert_gapless_events(dag)
