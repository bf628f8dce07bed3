"""Verification of real clusters, read from their agent (the fake obshell cluster): every value an agent version
exposes is checked; what it does not expose, or a call that fails, is "unknown", never "passed"."""

import time

import pytest
from django.utils import timezone

from tests.support.builds import OB_4_2_1_0_20230928 as START
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.fake_agent import FakeCluster
from tests.support.packages import ingest_rpms
from upgrades.audit import Actor
from upgrades.engine.mirror import mirror_poll
from upgrades.models import Cluster, Dag
from upgrades.services.dag_start import upgrade_start
from upgrades.services.real_clusters import cluster_register_obshell
from upgrades.services.real_upgrades import packages_push
from upgrades.services.verification import cluster_verification, run_verification

pytestmark = pytest.mark.django_db

START_BUILD = f"{START.version}-{START.build_number}"


@pytest.fixture(autouse=True)
def fast_mirror(settings):
    settings.MIRROR_POLL_SECONDS = 0.05


def statuses(result):
    return {check["key"]: check["status"] for check in result["checks"]}


def check(result, key):
    return next(c for c in result["checks"] if c["key"] == key)


def register(fake, addresses=None):
    return cluster_register_obshell(
        name="prod1", addresses=addresses or fake.addresses, password=fake.password, edition="community"
    )


def test_a_current_agent_exposes_every_value_and_they_agree():
    with FakeCluster(build=START_BUILD, agent_version="4.3.1.0-100000012025062514") as fake:
        result = cluster_verification(register(fake))["result"]
        assert result["source"] == "obshell agent 4.3.1.0-100000012025062514"
        assert result["target_build"] == START.build_version
        assert set(statuses(result).values()) == {"passed"} and result["outcome"] == "passed"
        assert check(result, "tenant_compatible")["total"] == 2 and check(result, "no_stopped_zone")["total"] == 3
        assert result["parameters"]["compatible"] == {"sys": START.version, "app": START.version}
        assert set(result["parameters"]["enable_upgrade_mode"].values()) == {"False"}


def test_values_out_of_sync_fail_with_what_was_found():
    with FakeCluster(build=START_BUILD, agent_version="4.4.0.0-100000012025122514") as fake:
        cluster = register(fake)
        fake.cluster_params["enable_upgrade_mode"] = "True"
        fake.compatible["app"] = "4.2.0.0"
        fake.stopped_zones.add("zone2")
        result = cluster_verification(cluster)["result"]
        assert statuses(result) == {
            "servers_on_target": "passed",
            "min_observer_version": "passed",
            "tenant_compatible": "failed",
            "upgrade_mode_off": "failed",
            "no_stopped_zone": "failed",
        }
        assert check(result, "tenant_compatible")["found"] == [["app", "4.2.0.0"]]
        assert check(result, "no_stopped_zone")["found"] == [["zone2", "INACTIVE"]]
        assert check(result, "upgrade_mode_off")["found_count"] == 3


def test_an_agent_before_4_3_reads_tenants_only_and_the_rest_is_unknown():
    with FakeCluster(build=START_BUILD, agent_version="4.2.4.0-100000012024091215") as fake:
        result = cluster_verification(register(fake))["result"]
        assert statuses(result) == {
            "servers_on_target": "passed",
            "min_observer_version": "unknown",
            "tenant_compatible": "passed",
            "upgrade_mode_off": "unknown",
            "no_stopped_zone": "unknown",
        }
        assert result["outcome"] == "unknown"
        assert "GET /api/v1/obcluster/parameters, 4.3.0.0+" in check(result, "min_observer_version")["reason"]
        fake.compatible["sys"] = "4.1.0.0"
        again = cluster_verification(Cluster.objects.get(name="prod1"))["result"]
        assert check(again, "tenant_compatible")["found"] == [["sys", "4.1.0.0"]]


def test_an_agent_before_4_2_4_has_only_the_builds():
    with FakeCluster(build=START_BUILD, agent_version="4.2.3.0-100000012024041915", key_bits=512) as fake:
        result = cluster_verification(register(fake))["result"]
        assert statuses(result)["servers_on_target"] == "passed"
        assert {status for key, status in statuses(result).items() if key != "servers_on_target"} == {"unknown"}
        assert "4.2.4.0+" in check(result, "tenant_compatible")["reason"]


def test_failed_calls_are_unknown_never_passed():
    with FakeCluster(build=START_BUILD, agent_version="4.3.1.0-100000012025062514") as fake:
        cluster = register(fake, addresses=fake.addresses[:1])
        fake.agents[0].observer_up = False  # its observer is down: /ob/info degrades, parameter reads fail
        result = cluster_verification(cluster)["result"]
        assert set(statuses(result).values()) == {"unknown"}
        assert "OB.Server.Process.NotExist" in check(result, "min_observer_version")["reason"]
        assert "no topology" in check(result, "servers_on_target")["reason"]
        for agent in fake.agents:
            agent.stop()
        result = cluster_verification(cluster)["result"]
        assert set(statuses(result).values()) == {"unknown"}
        assert "no agent answered" in check(result, "servers_on_target")["reason"]


def test_contact_stopped_is_unknown_without_calling_the_agent():
    with FakeCluster(build=START_BUILD) as fake:
        cluster = register(fake)
        cluster.contact_problem = "credentials rejected"
        cluster.save(update_fields=["contact_problem"])
        before = sum(len(agent.requests) for agent in fake.agents)
        result = cluster_verification(cluster)["result"]
        assert set(statuses(result).values()) == {"unknown"}
        assert "contact with the agent is stopped: credentials rejected" in check(result, "no_stopped_zone")["reason"]
        cluster.contact_problem = ""
        cluster.unreachable_since = timezone.now()
        cluster.save(update_fields=["contact_problem", "unreachable_since"])
        result = cluster_verification(cluster)["result"]
        assert "the agent has been unreachable since" in check(result, "servers_on_target")["reason"]
        assert set(statuses(result).values()) == {"unknown"}
        assert sum(len(agent.requests) for agent in fake.agents) == before


def mirror_until(dag, states, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        delay = mirror_poll(dag.pk)
        dag.refresh_from_db()
        if dag.state in states:
            return dag
        assert time.monotonic() < deadline, f"the mirror stayed {dag.state} at stage {dag.stage}"
        time.sleep(min(delay, 0.1))


def test_a_mirrored_upgrade_is_verified_and_kept_and_a_failed_post_script_shows(tmp_path):
    with FakeCluster(build=START_BUILD, restart_seconds=0.3) as fake:
        cluster = register(fake)
        packages_push(cluster=cluster, packages=ingest_rpms(TARGET, tmp_path))
        fake.fail_node("Execute upgrade post script")
        dag = upgrade_start(
            cluster=cluster, version=TARGET.version, release=TARGET.release, mode="ROLLING", actor=Actor.system("t")
        )
        mirror_until(dag, ("FAILED",))
        failed = run_verification(dag)
        assert statuses(failed)["upgrade_mode_off"] == "failed"
        assert statuses(failed)["tenant_compatible"] == "failed"
        assert statuses(failed)["servers_on_target"] == "passed"  # the observers already run the target
        assert not Dag.objects.get(pk=dag.pk).verification  # not finished: nothing kept
        fake.operate(fake.dags[int(dag.remote_dag_id[1:])], "RETRY")
        mirror_until(dag, ("SUCCEED",))
        kept = run_verification(dag)
        assert kept["outcome"] == "passed" and kept["target_build"] == TARGET.build_version
        assert Dag.objects.get(pk=dag.pk).verification == kept
        fake.cluster_params["enable_upgrade_mode"] = "True"  # later changes do not rewrite the run's result
        assert run_verification(Dag.objects.get(pk=dag.pk))["outcome"] == "passed"
