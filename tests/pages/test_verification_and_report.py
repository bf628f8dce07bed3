"""The verification panel on a run's page and a cluster's page, and the change report of a run
(/runs/<id>/report/): what they show for passed, failed and unknown checks, and who may read them."""

import re

import pytest
from django.test import Client

from tests.engine.helpers import failed_run
from tests.support.builds import OB_4_2_1_0_20230928 as START
from tests.support.builds import OB_4_2_1_1_20231101 as ONE_HOP
from tests.support.builds import OB_4_3_0_1_20231101 as TARGET
from tests.support.dags import start_upgrade
from tests.support.factories import make_cluster, make_user
from tests.support.fake_agent import FakeCluster
from tests.support.packages import stock_packages
from upgrades.audit import Actor
from upgrades.engine.runner import run_dag_to_end
from upgrades.models import Server, Zone
from upgrades.services.dag_operators import dag_operate
from upgrades.services.real_clusters import cluster_register_obshell

pytestmark = pytest.mark.django_db


def signed_in(role):
    client = Client()
    client.force_login(make_user(role))
    return client


def checks_on(page):
    """{check key: status} of the verification panel in `page`."""
    return dict(re.findall(r'data-check="([a-z_]+)" data-status="([a-z]+)"', page))


@pytest.fixture
def finished(db):
    cluster = make_cluster("alpha", zones=3)
    stock_packages(TARGET)
    user = make_user("operator")
    actor = Actor.for_user(user)
    dag = failed_run(cluster, TARGET, "Execute upgrade post script", actor=actor, reason="CHG-1234 quarterly patch")
    dag = dag_operate(dag=dag, operator="retry", actor=actor, reason="post script hit a lock timeout, retrying")
    return run_dag_to_end(dag.pk)


def test_a_finished_run_shows_the_kept_verification_and_links_its_report(finished):
    page = signed_in("viewer").get(f"/runs/{finished.pk}/").content.decode()
    assert checks_on(page) == dict.fromkeys(
        ["servers_on_target", "min_observer_version", "tenant_compatible", "upgrade_mode_off", "no_stopped_zone"],
        "passed",
    )
    assert 'data-verification="passed"' in page and "kept with the run when it finished" in page
    assert f'href="/runs/{finished.pk}/report/"' in page
    assert TARGET.build_version in page


def test_a_running_run_has_no_panel(cluster, target):
    dag = start_upgrade(cluster, ONE_HOP)
    page = signed_in("viewer").get(f"/runs/{dag.pk}/").content.decode()
    assert "data-verification" not in page and checks_on(page) == {}


def test_a_run_stopped_by_a_failed_post_script_shows_the_failures_found():
    cluster = make_cluster("beta", zones=3)
    stock_packages(TARGET)
    dag = failed_run(cluster, TARGET, "Execute upgrade post script")
    page = signed_in("viewer").get(f"/runs/{dag.pk}/").content.decode()
    assert checks_on(page) == {
        "servers_on_target": "passed",
        "min_observer_version": "failed",
        "tenant_compatible": "failed",
        "upgrade_mode_off": "failed",
        "no_stopped_zone": "passed",
    }
    assert "as of now: the run is waiting for an operator" in page
    assert f'<span class="mono">app</span>: <span class="mono">{START.version}</span>' in page
    assert "3 of 3 differ" in page


def test_the_cluster_page_checks_a_simulated_cluster_now(cluster):
    viewer = signed_in("viewer")
    page = viewer.get(f"/clusters/{cluster.name}/").content.decode()
    assert set(checks_on(page).values()) == {"passed"}
    assert "no upgrade has finished here yet" in page
    Zone.objects.filter(cluster=cluster, name="zone3").update(status=Zone.Status.INACTIVE)
    Server.objects.filter(cluster=cluster).update(parameters={})
    page = viewer.get(f"/clusters/{cluster.name}/").content.decode()
    checks = checks_on(page)
    assert checks["no_stopped_zone"] == "failed" and checks["min_observer_version"] == "unknown"
    assert "min_observer_version is not recorded on every simulated server" in page
    assert 'data-verification="failed"' in page


def test_a_real_cluster_page_asks_the_agent_only_on_request():
    with FakeCluster(build=f"{START.version}-{START.build_number}", agent_version="4.2.4.0-100000012024091215") as fake:
        cluster_register_obshell(name="prod1", addresses=fake.addresses, password=fake.password, edition="community")
        viewer = signed_in("viewer")
        asked = sum(len(agent.requests) for agent in fake.agents)
        page = viewer.get("/clusters/prod1/").content.decode()
        assert sum(len(agent.requests) for agent in fake.agents) == asked
        assert "No finished upgrade has kept a verification" in page
        assert 'href="/clusters/prod1/?verify=now#verification-h"' in page
        page = viewer.get("/clusters/prod1/?verify=now").content.decode()
        assert checks_on(page) == {
            "servers_on_target": "passed",
            "min_observer_version": "unknown",
            "tenant_compatible": "passed",
            "upgrade_mode_off": "unknown",
            "no_stopped_zone": "unknown",
        }
        assert "does not serve cluster parameters" in page and 'data-verification="unknown"' in page


def test_the_change_report_says_who_when_why_route_checks_stages_actions_parameters(finished):
    response = signed_in("viewer").get(f"/runs/{finished.pk}/report/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Change report" in page and finished.name in page
    assert re.search(r'data-role="who">user operator\d+<', page)
    assert "CHG-1234 quarterly patch" in page
    route = re.search(r'<ol class="report-route">.*?</ol>', page, re.S).group(0)
    assert START.version in route and "(target)" in route and TARGET.version in route
    assert "Pre-checks" in page and "checks before the start, 0 failed." in page
    assert page.count('class="num">') >= finished.max_stage
    assert "Execute upgrade post script" in page
    # Operator actions with their reasons, from the audit log.
    assert 'data-action="upgrade.start"' in page and 'data-action="dag.operate"' in page
    assert "post script hit a lock timeout, retrying" in page and "RETRY" in page
    # Parameters: what the backup kept before, what the verification read after.
    row = re.search(r'<td class="mono">min_observer_version</td>.*?</tr>', page, re.S).group(0)
    assert re.search(rf'<td class="mono">{START.version}</td>\s*<td class="mono">{TARGET.version}</td>', row)
    row = re.search(r'<td class="mono">enable_upgrade_mode</td>.*?</tr>', page, re.S).group(0)
    assert "False" in row and "not recorded" not in row
    row = re.search(r'<td class="mono">enable_rebalance</td>.*?</tr>', page, re.S).group(0)
    assert row.count("True") == 2
    assert 'data-verification="passed"' in page
    # Print-friendly: the print stylesheet, the Print button's module, no inline script.
    assert "css/report.css" in page and "js/report.js" in page and 'data-role="print"' in page
    assert "onclick" not in page


def test_a_check_run_report_has_no_verification(cluster, target):
    from upgrades.services.dag_start import upgrade_check_start

    dag = upgrade_check_start(
        cluster=cluster, version=ONE_HOP.version, release=ONE_HOP.release, actor=Actor.system("t")
    )
    dag = run_dag_to_end(dag.pk)
    page = signed_in("viewer").get(f"/runs/{dag.pk}/report/").content.decode()
    assert "not applicable to this run" in page and "data-verification" not in page


def test_the_report_needs_a_role_and_a_run(finished):
    assert Client().get(f"/runs/{finished.pk}/report/").status_code == 302
    assert signed_in("viewer").get("/runs/999999/report/").status_code == 404
    assert signed_in("viewer").post(f"/runs/{finished.pk}/report/").status_code == 405
