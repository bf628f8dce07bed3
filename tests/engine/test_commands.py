"""The engine's management commands: upgrade (with --wait), operate and inject_fault."""

import pytest
from django.core.management import CommandError, call_command

from tests.engine.helpers import assert_gapless_events, failed_run
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from upgrades.engine.runner import run_dag_to_end
from upgrades.models import AuditEntry, Dag, Fault
from upgrades.models.dag import State

TARGET_VERSION, TARGET_RELEASE = TARGET


def upgrade(cluster, *extra):
    return call_command(
        "upgrade", cluster.name, "--version", TARGET_VERSION, "--release", TARGET_RELEASE, "--mode", "ROLLING", *extra
    )


@pytest.mark.django_db(transaction=True)
def test_upgrade_wait_follows_the_dag_to_success(capsys):
    cluster = make_cluster()
    stock_packages(TARGET)
    upgrade(cluster, "--reason", "patch night", "--wait")
    out = capsys.readouterr().out.splitlines()
    dag = Dag.objects.get(cluster=cluster)
    assert out[0] == str(dag.pk)
    stage_lines = [line for line in out if line.startswith("[")]
    assert len(stage_lines) == dag.max_stage == 30
    assert stage_lines[0].startswith("[ 1/30] Check the python environment") and "SUCCEED" in stage_lines[0]
    assert stage_lines[-1].startswith("[30/30] Remove upgrade check task dir")
    assert out[-1].startswith(f"DAG {dag.pk} SUCCEED (RUN) in ")
    assert (dag.state, dag.reason) == (State.SUCCEED, "patch night")
    assert dag.actor_label.startswith("command ")
    assert_gapless_events(dag)


@pytest.mark.django_db(transaction=True)
def test_upgrade_wait_fails_with_the_failing_node_and_its_last_log_line(capsys):
    cluster = make_cluster()
    stock_packages(TARGET)
    call_command("inject_fault", cluster.name, "--node", "Stop zone2", "--times", "1", "--kind", "fail")
    with pytest.raises(CommandError) as caught:
        upgrade(cluster, "--wait")
    dag = Dag.objects.get(cluster=cluster)
    message = str(caught.value)
    assert f"DAG {dag.pk} FAILED (RUN) at stage 19: Stop zone2" in message
    assert "ERROR: [OB.Cluster.AsyncOperationTimeout]: stop zone timeout" in message

    call_command("operate", str(dag.pk), "retry", "--reason", "zone2 fixed")
    dag.refresh_from_db()
    assert (dag.state, dag.operator) == (State.READY, "RUN")
    entry = AuditEntry.objects.get(dag=dag, action="dag.operate")
    assert entry.reason == "zone2 fixed" and entry.actor_label.startswith("command ")
    with pytest.raises(CommandError, match=r"\[Task.Dag.Operator.PassNotFailedDag\]"):
        call_command("operate", str(dag.pk), "pass", "--reason", "no")


@pytest.mark.django_db
def test_upgrade_refused_by_a_precheck():
    cluster = make_cluster()
    with pytest.raises(CommandError, match=r"^\[Common.Unexpected\] oceanbase-ce-4.3.0.1"):
        upgrade(cluster)
    assert not Dag.objects.exists()


@pytest.mark.django_db
def test_inject_fault_validates_its_target(capsys):
    cluster = make_cluster()
    server = cluster.servers.order_by("id").last()
    call_command(
        "inject_fault",
        cluster.name,
        "--node",
        "Reinstall and restart observer",
        "--server",
        server.agent_address,
        "--kind",
        "hang",
    )
    fault = Fault.objects.get()
    assert (fault.server_id, fault.kind, fault.times_remaining) == (server.pk, "hang", 1)
    assert "fault" in capsys.readouterr().out
    with pytest.raises(CommandError, match="has no agent"):
        call_command("inject_fault", cluster.name, "--node", "Stop zone1", "--server", "10.0.0.1:2886")
    with pytest.raises(CommandError, match="no cluster"):
        call_command("inject_fault", "nope", "--node", "Stop zone1")


@pytest.mark.django_db
def test_operate_passes_a_node(capsys):
    cluster = make_cluster()
    stock_packages(TARGET)
    dag = failed_run(cluster, TARGET, "Remove upgrade check task dir")
    node = dag.nodes.get(seq=dag.stage)
    with pytest.raises(CommandError, match="only for pass"):
        call_command("operate", str(dag.pk), "retry", "--node", str(node.pk), "--reason", "x")
    call_command("operate", str(dag.pk), "pass", "--node", str(node.pk), "--reason", "removed by hand")
    assert f"node {node.pk} Remove upgrade check task dir: SUCCEED/PASS; DAG READY/RUN" in capsys.readouterr().out
    assert run_dag_to_end(dag.pk).state == State.SUCCEED
    with pytest.raises(CommandError, match="no DAG"):
        call_command("operate", "999999", "cancel", "--reason", "x")


@pytest.mark.django_db
def test_operate_continues_a_failed_rollback(capsys):
    cluster = make_cluster()
    stock_packages(TARGET)
    dag = failed_run(cluster, TARGET, "Unpack all required packages")
    with pytest.raises(CommandError, match=r"\[Task.Dag.Operator.ContinueRollbackNotRollingBack\]"):
        call_command("operate", str(dag.pk), "continue-rollback", "--reason", "nothing failed rolling back")
    call_command("inject_fault", cluster.name, "--node", "Check all required packages", "--kind", "fail_rollback")
    call_command("operate", str(dag.pk), "rollback", "--reason", "wrong target")
    dag = run_dag_to_end(dag.pk)
    assert (dag.state, dag.operator, dag.stage) == (State.FAILED, "ROLLBACK", 4)
    call_command("operate", str(dag.pk), "continue-rollback", "--reason", "packages dir freed")
    assert capsys.readouterr().out.strip().endswith("READY/ROLLBACK at stage 4")
    dag = run_dag_to_end(dag.pk)
    assert (dag.state, dag.operator, dag.stage) == (State.SUCCEED, "ROLLBACK", 1)
    actions = list(AuditEntry.objects.filter(dag=dag).order_by("id").values_list("action", "outcome"))[1:]
    assert actions == [
        ("dag.continue_rollback", "refused"),
        ("dag.operate", "ok"),
        ("dag.continue_rollback", "ok"),
    ]
