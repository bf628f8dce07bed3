"""Steps log what obshell's steps log, per attempt and phase; a FAILED sub-task always has a log line."""

import pytest

from tests.engine.helpers import assert_gapless_events, failed_run
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from upgrades.engine.runner import run_dag_to_end
from upgrades.models import DagEvent, Server, SubTask, TaskLog
from upgrades.models.dag import State


def lines_of(dag, node_name):
    return [log.line for log in TaskLog.objects.filter(sub_task__dag=dag, sub_task__name=node_name).order_by("id")]


@pytest.mark.django_db
def test_steps_write_realistic_lines():
    cluster = make_cluster()
    stock_packages(TARGET)
    dag = run_dag_to_end(start_upgrade(cluster, TARGET).pk)
    agent = cluster.agent_server()
    python = lines_of(dag, "Check the python environment")
    assert python[:2] == ["Checking if python is installed.", "Python major version 3"]
    assert python.count("check env success") == 3
    assert lines_of(dag, "Stop zone1")[0] == "ALTER SYSTEM STOP ZONE 'zone1'"
    assert "wait zone zone1 INACTIVE" in lines_of(dag, "Stop zone1")
    assert "ALTER SYSTEM START ZONE 'zone3'" in lines_of(dag, "Start zone3")
    checker = lines_of(dag, "Execute upgrade checker script")[0]
    assert checker.endswith(f"etc/upgrade_checker.py -h{agent.ip} -P2881 -uroot")
    assert "python /home/admin/oceanbase/upgrade/rpm-" in checker
    zone_check = lines_of(dag, "Execute upgrade zone health checker script")
    assert any(line.endswith("-uroot -z'zone2'") for line in zone_check)
    reinstall = lines_of(dag, "Reinstall and restart observer")
    assert any(line.startswith("kill observer") for line in reinstall)
    assert any(line.startswith("start observer") for line in reinstall)
    assert set(TaskLog.objects.filter(sub_task__dag=dag).values_list("execute_times", "phase")) == {(1, "run")}
    # Every line was published as an event, in order.
    events = DagEvent.objects.filter(dag=dag, kind="log.appended").order_by("seq")
    assert [e.payload["log"]["id"] for e in events] == list(
        TaskLog.objects.filter(sub_task__dag=dag).order_by("id").values_list("id", flat=True)
    )
    assert_gapless_events(dag)


@pytest.mark.django_db
def test_hosts_with_several_agents_do_host_work_once():
    cluster = make_cluster(zones=3)
    first = cluster.agent_server()
    twin = Server.objects.create(
        cluster=cluster, zone=first.zone, ip=first.ip, agent_port=2887, sql_port=2891, build_version=first.build_version
    )
    stock_packages(TARGET)
    dag = run_dag_to_end(start_upgrade(cluster, TARGET).pk)
    assert dag.state == State.SUCCEED
    twin_check = SubTask.objects.get(dag=dag, name="Check the python environment", server=twin)
    assert [log.line for log in twin_check.logs.order_by("id")] == [
        "Due to multiple obshell being on this machine, only one needs to perform this sub task.",
        f"The actual obshell server executing the task is {first.ip}:{first.agent_port}",
    ]
    twin.refresh_from_db()
    assert twin.build_version == "4.3.0.1_101000062023110109"


@pytest.mark.django_db
def test_every_failed_sub_task_has_a_log_line():
    cluster = make_cluster(zones=3, servers_per_zone=2)
    stock_packages(TARGET)
    dag = failed_run(cluster, TARGET, "Unpack all required packages")
    failed = SubTask.objects.filter(dag=dag, state=State.FAILED)
    assert failed.count() == 6
    for sub_task in failed:
        last = sub_task.logs.order_by("id").last()
        assert last.level == "ERROR" and last.line.startswith("ERROR: [Common.Unexpected]: exec 'rpm2cpio ")
