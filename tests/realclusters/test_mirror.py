"""Upgrading a real cluster: packages pushed to its agent, the upgrade started with obshell's protocol and its DAG
mirrored here (states, logs, events), operators forwarded; against the fake obshell cluster."""

import time

import pytest

from tests.support.builds import OB_4_2_1_0_20230928 as START
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.fake_agent import FakeCluster
from tests.support.packages import ingest_rpms
from tests.support.waiting import wait_until
from upgrades.audit import Actor
from upgrades.engine.mirror import mirror_poll
from upgrades.errors import ObshellError
from upgrades.models import AuditEntry, Dag, DagEvent, TaskLog
from upgrades.services.dag_operators import dag_operate
from upgrades.services.dag_start import upgrade_start
from upgrades.services.real_clusters import cluster_register_obshell
from upgrades.services.real_upgrades import adopt_remote_upgrades, packages_push

pytestmark = pytest.mark.django_db

START_BUILD = f"{START.version}-{START.build_number}"
ACTOR = Actor.system("test dba")


@pytest.fixture(autouse=True)
def fast_mirror(settings):
    settings.MIRROR_POLL_SECONDS = 0.05


def real_cluster(fake, tmp_path, push=True):
    cluster = cluster_register_obshell(name="prod1", addresses=fake.addresses, password=fake.password)
    packages = ingest_rpms(TARGET, tmp_path)
    if push:
        assert packages_push(cluster=cluster, packages=packages) == 2
    return cluster


def mirror_until(dag, states, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        delay = mirror_poll(dag.pk)
        dag.refresh_from_db()
        if dag.state in states:
            return dag
        assert time.monotonic() < deadline, f"the mirror stayed {dag.state} at stage {dag.stage}"
        time.sleep(min(delay, 0.1))


def start(cluster, mode="ROLLING"):
    return upgrade_start(cluster=cluster, version=TARGET.version, release=TARGET.release, mode=mode, actor=ACTOR)


def assert_gapless(dag):
    seqs = list(DagEvent.objects.filter(dag=dag).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))


def test_start_refused_until_the_packages_are_on_the_agent(tmp_path):
    with FakeCluster(build=START_BUILD) as fake:
        cluster = real_cluster(fake, tmp_path, push=False)
        with pytest.raises(ObshellError) as refused:
            start(cluster)
        assert refused.value.err_code == "OB.Package.NotExist"
        assert f"oceanbase-ce-{TARGET.version}-{TARGET.release}" in refused.value.message
        assert not Dag.objects.exists() and not fake.dags
        assert AuditEntry.objects.filter(action="upgrade.start", outcome="refused").count() == 1


def test_mirrored_rolling_upgrade_reaches_succeed_through_the_restart(tmp_path):
    with FakeCluster(build=START_BUILD, restart_seconds=0.4) as fake:
        cluster = real_cluster(fake, tmp_path)
        dag = start(cluster)
        assert dag.remote_dag_id and dag.holds_lock and dag.max_stage == 30
        assert all(node.remote_id for node in dag.nodes.all())
        mirror_until(dag, ("SUCCEED",))
        assert not dag.holds_lock and dag.is_finished
        assert set(dag.nodes.values_list("state", flat=True)) == {"SUCCEED"}
        kinds = set(DagEvent.objects.filter(dag=dag).values_list("kind", flat=True))
        assert {"agent.unreachable", "agent.back", "log.appended", "node.updated"} <= kinds
        assert TaskLog.objects.filter(sub_task__dag=dag, text="restart agent task continue").count() == 3
        assert_gapless(dag)


def test_failure_is_mirrored_and_retry_is_forwarded(tmp_path):
    # The OB rpm brings its own obshell; a 4.5 one keeps the current error format after "Restart obshell".
    with FakeCluster(build=START_BUILD, new_agent_version="4.5.0.0-100000012026050810") as fake:
        cluster = real_cluster(fake, tmp_path)
        fake.fail_node("Execute upgrade pre script")
        dag = mirror_until(start(cluster, mode="STOPSERVICE"), ("FAILED",))
        failed = dag.nodes.get(state="FAILED")
        assert failed.name == "Execute upgrade pre script" and dag.holds_lock
        assert TaskLog.objects.filter(sub_task__node=failed, level="ERROR").exists()
        with pytest.raises(ObshellError) as refused:
            dag_operate(dag=dag, operator="PASS", actor=ACTOR, reason="try")
        assert refused.value.err_code == "Task.Dag.Operator.PassNotAllowed"  # the agent's answer, as ours
        dag_operate(dag=dag, operator="RETRY", actor=ACTOR, reason="the script was fixed")
        mirror_until(dag, ("SUCCEED",))
        entries = AuditEntry.objects.filter(action="dag.operate", dag=dag).values_list("outcome", flat=True)
        assert sorted(entries) == ["ok", "refused"]
        assert_gapless(dag)


def test_agent_refusal_leaves_nothing_and_an_outside_upgrade_is_adopted(tmp_path):
    with FakeCluster(build=START_BUILD) as fake:
        cluster = real_cluster(fake, tmp_path)
        fake.hang.add("Check the python environment")
        outside = fake.create_dag(
            "OB rolling upgrade 4.3.0.1-101000062023110109.el7",
            ["Check the python environment", "Create upgrade dir"],
            maintenance=True,
            target={},
            agent_for_serial=fake.agents[0],
        )
        with pytest.raises(ObshellError) as refused:
            start(cluster)
        assert (refused.value.err_code, refused.value.status) == ("OB.Cluster.UnderMaintenanceWithDag", 500)
        assert not Dag.objects.exists()
        [adopted] = adopt_remote_upgrades(cluster=cluster)
        assert adopted.started_outside and adopted.remote_dag_id == f"1{outside.row}"
        assert adopt_remote_upgrades(cluster=cluster) == []  # once


def test_restart_rekey_is_accepted_other_key_changes_stop(tmp_path):
    with FakeCluster(build=START_BUILD, agent_version="4.3.1.0-100000012025062514", key_bits=512) as fake:
        fake.new_agent_version = "4.4.2.0-100000012026041611"
        cluster = real_cluster(fake, tmp_path)
        dag = start(cluster)
        # The mirror does not poll until every agent came back re-keyed: it never saw "Restart obshell" run.
        wait_until(lambda: all(a.serving and a.key.key_size == 1024 for a in fake.agents), what="the re-key")
        dag = mirror_until(dag, ("SUCCEED",))
        cluster.refresh_from_db()
        assert cluster.contact_problem == ""
        assert cluster.agent_public_key[cluster.agent_addresses[0]] == fake.agents[0].public_key_b64
        assert len(cluster.agent_public_key[cluster.agent_addresses[0]]) == 188  # now 1024-bit
        fake.agents[0].rekey()
        fake.agents[1].stop()  # no fallback to hide the change
        fake.agents[2].stop()
        fake.fail_node("Create upgrade dir")
        Dag.objects.filter(pk=dag.pk).update(state="RUNNING", is_finished=False)  # make it pollable again
        mirror_poll(dag.pk)
        cluster.refresh_from_db()
        assert cluster.contact_problem == "public key changed"


@pytest.mark.django_db(transaction=True)  # --wait follows the mirror from a thread of its own
def test_upgrade_command_pushes_then_follows_the_agent(tmp_path, capsys):
    from django.core.management import call_command

    with FakeCluster(build=START_BUILD) as fake:
        real_cluster(fake, tmp_path, push=False)
        call_command(
            "upgrade", "prod1", "--version", TARGET.version, "--release", TARGET.release, "--mode", "ROLLING", "--wait"
        )
    out = capsys.readouterr().out
    assert f"pushing oceanbase-ce-{TARGET.version}-{TARGET.release}.x86_64.rpm" in out
    assert "packages on the agent: 2 pushed" in out
    assert "[ 8/30] Restart obshell" in out and "SUCCEED" in out.splitlines()[-1]


def test_preview_queues_the_push_and_a_worker_sends_it(tmp_path):
    from django.test import Client

    from tests.support.factories import make_user
    from upgrades.models import Package, PackageSync
    from upgrades.services.real_upgrades import run_package_syncs

    with FakeCluster(build=START_BUILD, new_agent_version="4.5.0.0-100000012026050810") as fake:
        cluster = real_cluster(fake, tmp_path, push=False)
        page = Client()
        page.force_login(make_user("operator"))
        target = Package.objects.get(name="oceanbase-ce")
        preview = page.post("/clusters/prod1/", {"package": target.pk, "mode": "ROLLING", "action": "preview"})
        assert preview.status_code == 200
        html = preview.content.decode()
        assert "Packages pushed to the agent" in html
        assert html.count("Checked by the agent at start") == 8 and "are checked by the agent at start" in html
        assert set(PackageSync.objects.values_list("state", flat=True)) == {"queued"}
        assert 'data-poll-url="/clusters/prod1/package-syncs/"' in html
        fragment = page.get("/clusters/prod1/package-syncs/").content.decode()
        assert fragment.count('data-sync-state="queued"') == 2 and "0% sent" in fragment
        with pytest.raises(ObshellError, match="their push is in progress"):
            start(cluster)
        page.post("/clusters/prod1/", {"package": target.pk, "mode": "ROLLING", "action": "preview"})
        assert PackageSync.objects.count() == 2  # not queued twice
        assert run_package_syncs() == 2
        assert set(PackageSync.objects.values_list("state", flat=True)) == {"done"}
        assert all(s.bytes_sent == s.total_bytes > 0 for s in PackageSync.objects.all())
        fragment = page.get("/clusters/prod1/package-syncs/").content.decode()
        assert fragment.count('data-sync-state="done"') == 2 and "<progress" not in fragment
        assert {p["name"] for p in fake.packages} == {"oceanbase-ce", "oceanbase-ce-libs"}
        mirror_until(start(cluster), ("SUCCEED",))


def test_agent_self_upgrade_on_a_real_cluster_is_forwarded_and_mirrored(tmp_path):
    from tests.support.builds import Build
    from tests.support.packages import write_obshell_rpm
    from upgrades.services.dag_start import agent_upgrade_start
    from upgrades.services.packages import package_upload

    obshell = Build("4.4.2.0", "100000012026041611.el7")
    with FakeCluster(build=START_BUILD, key_bits=512) as fake:  # 4.3.1 agents with 512-bit keys
        cluster = real_cluster(fake, tmp_path, push=False)
        path = write_obshell_rpm(obshell, tmp_path / "obshell")
        package = package_upload(path=path, filename=path.name)[0]
        with pytest.raises(ObshellError, match="not on the cluster's agent yet"):
            agent_upgrade_start(cluster=cluster, version=obshell.version, release=obshell.release, actor=ACTOR)
        assert packages_push(cluster=cluster, packages=[package]) == 1
        dag = agent_upgrade_start(
            cluster=cluster, version=obshell.version, release=obshell.release, actor=ACTOR, reason="obshell 4.4.2"
        )
        assert (dag.kind, dag.max_stage, dag.name) == (
            "agent_upgrade",
            9,
            f"Upgrade obshell {obshell.version}-{obshell.release}",
        )
        mirror_until(dag, ("SUCCEED",))
        assert {agent.version for agent in fake.agents} == {f"{obshell.version}-{obshell.build_number}"}
        cluster.refresh_from_db()
        assert cluster.contact_problem == ""  # the re-key of its Restart obshell was accepted
        assert AuditEntry.objects.filter(action="agent_upgrade.start", outcome="ok", dag=dag).exists()
