"""The cluster page's "Upgrade obshell": the agents' versions in the topology, the preview with obshell's checks, the
confirmation with a reason, one audited DAG and the run page; refusals create nothing."""

import re

import pytest

from tests.support.builds import OBSHELL_4_2_2_0_20240108 as OBSHELL
from tests.support.dags import start_upgrade
from tests.support.packages import add_obshell_package
from upgrades.models import AuditEntry, Dag, Server

pytestmark = pytest.mark.django_db


@pytest.fixture
def obshell_rpm(db):
    return add_obshell_package(OBSHELL)


def form_data(package, **overrides):
    data = {"obshell-obshell_package": package.pk, "obshell-upgrade_dir": "", "obshell-reason": "CHG-7: obshell fixes"}
    data.update(overrides)
    return data


def url(cluster):
    return f"/clusters/{cluster.name}/obshell/"


def preview(client, cluster, data):
    return client.post(url(cluster), {**data, "action": "preview"})


def previewed_key(client, cluster, data):
    html = preview(client, cluster, data).content.decode()
    return re.search(r'name="obshell-plan_key" value="([0-9a-f]+)"', html).group(1)


def start(client, cluster, data, key=None):
    key = previewed_key(client, cluster, data) if key is None else key
    return client.post(url(cluster), {**data, "obshell-plan_key": key, "action": "upgrade"})


def test_topology_shows_each_agents_obshell_version(client, as_role, cluster):
    as_role("viewer")
    Server.objects.filter(pk=cluster.agent_server().pk).update(agent_version=OBSHELL.label)
    html = client.get(f"/clusters/{cluster.name}/").content.decode()
    versions = re.findall(r'data-agent-version>obshell <span class="mono">([^<]+)<', html)
    assert sorted(versions) == sorted([OBSHELL.label, "4.2.1.0-100000102023092807", "4.2.1.0-100000102023092807"])
    assert "Upgrading obshell needs the operator role." in html


def test_the_form_offers_only_newer_obshell_rpms(client, as_role, cluster, obshell_rpm):
    as_role("operator")
    older = add_obshell_package(type(OBSHELL)("4.2.1.0", "100000012023080111.el7"))
    html = client.get(f"/clusters/{cluster.name}/").content.decode()
    assert f'<option value="{obshell_rpm.pk}" selected>{OBSHELL.version}-{OBSHELL.release}' in html
    assert f'value="{older.pk}"' not in html


def test_without_a_newer_rpm_the_page_says_what_to_upload(client, as_role, cluster):
    as_role("operator")
    html = client.get(f"/clusters/{cluster.name}/").content.decode()
    assert "No newer obshell package." in html and 'id="agent-upgrade-form"' not in html


def test_preview_shows_the_nine_stages_and_the_checks(client, as_role, cluster, obshell_rpm):
    as_role("operator")
    response = preview(client, cluster, form_data(obshell_rpm))
    html = response.content.decode()
    assert response.status_code == 200
    assert f"Plan: Upgrade obshell {OBSHELL.version}-{OBSHELL.release}" in html
    assert "Stages (9)" in html and "Restart obshell" in html and "Execute upgrade pre script" not in html
    assert "✓ All 7 pre-checks passed." in html
    # The confirmation submits obshell's form, asks in words, and says what it starts.
    assert 'form="agent-upgrade-form" name="action" value="upgrade"' in html
    assert "Each agent restarts; OceanBase keeps running." in html
    assert Dag.objects.count() == 0


def test_upgrade_obshell_starts_one_audited_run_and_redirects(client, as_role, cluster, obshell_rpm):
    user = as_role("operator")
    response = start(client, cluster, form_data(obshell_rpm))
    dag = Dag.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/runs/{dag.pk}/"
    assert dag.kind == Dag.Kind.AGENT_UPGRADE and dag.holds_lock and dag.max_stage == 9
    assert dag.started_by == user and dag.reason == "CHG-7: obshell fixes"
    entry = AuditEntry.objects.get(dag=dag)
    assert entry.action == AuditEntry.Action.AGENT_UPGRADE_START and entry.actor_user == user
    run = client.get(response["Location"]).content.decode()
    assert "Upgrade obshell 4.2.2.0-100000032024010818.el7" in run and "obshell upgrade" in run


def test_reason_and_a_fresh_preview_are_required(client, as_role, cluster, obshell_rpm):
    as_role("operator")
    response = start(client, cluster, form_data(obshell_rpm, **{"obshell-reason": " "}))
    assert response.status_code == 400 and "Say why you are upgrading" in response.content.decode()
    response = start(client, cluster, form_data(obshell_rpm), key="0000000000000000")
    assert response.status_code == 200 and "The parameters changed since the preview" in response.content.decode()
    assert Dag.objects.count() == 0


def test_an_ob_upgrade_in_progress_refuses_with_obshells_error(client, as_role, cluster, obshell_rpm, target):
    as_role("operator")
    ob_run = start_upgrade(cluster, type(OBSHELL)("4.2.1.1", "101000012023110109.el7"))
    html = preview(client, cluster, form_data(obshell_rpm)).content.decode()
    assert "OB.Cluster.UnderMaintenanceWithDag" in html and ob_run.name in html
    assert '<button type="button" class="btn" disabled>Upgrade obshell</button>' in html
    response = start(client, cluster, form_data(obshell_rpm))
    assert response.status_code == 409 and "Upgrade refused" in response.content.decode()
    assert Dag.objects.count() == 1
    refused = AuditEntry.objects.get(action=AuditEntry.Action.AGENT_UPGRADE_START)
    assert refused.outcome == AuditEntry.Outcome.REFUSED


def test_a_viewer_cannot_preview_or_start(client, as_role, cluster, obshell_rpm):
    as_role("viewer")
    assert preview(client, cluster, form_data(obshell_rpm)).status_code == 403
    assert Dag.objects.count() == 0
