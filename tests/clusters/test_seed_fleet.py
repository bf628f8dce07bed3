"""manage.py seed_fleet: a realistic fleet written fast, refused (not doubled) when one is there, --reset replaces
it."""

import pytest
from django.core.management import CommandError, call_command

from upgrades.demo.scale import seed_fleet
from upgrades.models import AuditEntry, Cluster, ClusterLabel, Dag, DagEvent, Node, StepDurationStat, SubTask, TaskLog
from upgrades.models.dag import State

pytestmark = pytest.mark.django_db


def test_seeds_clusters_runs_and_their_details():
    report = seed_fleet(clusters=120, servers=9, runs=600)
    assert report.clusters == Cluster.objects.filter(name__startswith="fleet-").count() == 120
    finished = Dag.objects.filter(is_finished=True)
    assert finished.count() == 600 and report.runs == Dag.objects.count()
    # Editions and builds are spread; standalone clusters have one server, the others 9 in 3 zones.
    assert set(Cluster.objects.values_list("edition", flat=True)) == {"community", "business", "standalone"}
    one = Cluster.objects.get(name="fleet-0002")
    assert one.servers.count() == 9 and one.zones.count() == 3
    assert Cluster.objects.get(name="fleet-0001").servers.count() == 1
    # Every run has its stages; the latest runs also their sub-tasks (one per server of a parallel stage), logs
    # and gapless events; audit entries name the runs.
    assert Node.objects.count() == report.nodes and not Dag.objects.filter(nodes__isnull=True).exists()
    detailed = Dag.objects.filter(last_seq__gt=0).first()
    seqs = list(DagEvent.objects.filter(dag=detailed).order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, detailed.last_seq + 1))
    assert SubTask.objects.filter(dag=detailed).count() > Node.objects.filter(dag=detailed).count()
    assert TaskLog.objects.filter(sub_task__dag=detailed).exists()
    assert AuditEntry.objects.filter(dag=detailed, action__endswith=".start").count() == 1
    # Some clusters are busy now: running (one of them stalled) and failed holding the lock.
    assert Dag.objects.filter(is_finished=False, state=State.RUNNING).exists()
    assert Dag.objects.filter(holds_lock=True, state=State.FAILED).exists()
    assert Node.objects.filter(state=State.RUNNING, stalled_at__isnull=False).exists()
    assert Cluster.objects.filter(unreachable_since__isnull=False).exists()
    assert StepDurationStat.objects.exists() and ClusterLabel.objects.filter(key="env", value="prod").exists()


def test_refuses_a_second_fleet_and_reset_replaces_it():
    call_command("seed_fleet", clusters=5, runs=10)
    with pytest.raises(CommandError, match="already here .* use --reset"):
        call_command("seed_fleet", clusters=5, runs=10)
    call_command("seed_fleet", clusters=7, runs=14, reset=True)
    assert Cluster.objects.filter(name__startswith="fleet-").count() == 7
    assert Dag.objects.count() == 14
