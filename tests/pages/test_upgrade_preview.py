"""The upgrade form's preview: route hops, every pre-check with its mark and hint, the numbered stages."""

import re

import pytest

from upgrades.models import AuditEntry, Dag

pytestmark = pytest.mark.django_db


def preview(client, cluster, target, **overrides):
    data = {"package": target.pk, "mode": "ROLLING", "upgrade_dir": "", "reason": "", "action": "preview"}
    data.update(overrides)
    return client.post(f"/clusters/{cluster.name}/", data)


def test_form_offers_only_newer_packages_of_the_editions_target_name(client, as_role, cluster, target):
    from tests.support.packages import add_package

    older = add_package("oceanbase-ce", "4.2.0.0", "100000152023080109.el7")
    libs = target.__class__.objects.get(name="oceanbase-ce-libs")
    as_role("operator")
    html = client.get(f"/clusters/{cluster.name}/").content.decode()
    assert f'value="{target.pk}"' in html
    assert f'value="{older.pk}"' not in html
    assert f'value="{libs.pk}"' not in html


def test_preview_shows_route_checks_and_numbered_stages(client, as_role, cluster, target):
    as_role("operator")
    response = preview(client, cluster, target)
    html = response.content.decode()
    assert response.status_code == 200
    assert "OB rolling upgrade 4.2.1.1-101000012023110109.el7" in html
    route = re.search(r'<ol class="route".*?</ol>', html, re.S).group(0)
    assert "4.2.1.0-100000102023092807" in route and "4.2.1.1-101000012023110109" in route
    assert html.count('class="check-ok"') == 20
    stages = re.search(r'<ol class="nodes".*?</ol>', html, re.S).group(0)
    assert stages.count("<li>") == 30
    assert "Stop zone1" in stages and "Reinstall and restart observer" in stages
    assert "data-upgrade-button" in html
    assert Dag.objects.count() == 0, "a preview creates nothing"
    assert not AuditEntry.objects.filter(action__startswith="upgrade").exists()


def test_failed_check_is_marked_with_its_err_code_and_fix_and_blocks_upgrade(client, as_role, target):
    from tests.support.factories import make_cluster

    small = make_cluster("small", zones=2)
    as_role("operator")
    html = preview(client, small, target).content.decode()
    failed = re.search(r'<li class="check-failed" data-check="zones">.*?</li>', html, re.S).group(0)
    assert "✗" in failed
    assert "How to fix:" in failed and "STOPSERVICE" in failed
    assert "data-upgrade-button" not in html
    assert "Fix the failed checks listed below" in html
    assert "1 of 20 pre-checks failed: Zones for a rolling upgrade." in html


def test_stop_service_preview_on_a_small_cluster_passes(client, as_role, target):
    from tests.support.factories import make_cluster

    small = make_cluster("small", zones=1)
    as_role("operator")
    html = preview(client, small, target, mode="STOPSERVICE").content.decode()
    assert "OB stop service upgrade" in html
    assert "Business traffic will be interrupted" in html
    assert "data-upgrade-button" in html


def test_viewer_cannot_preview_or_see_the_form(client, as_role, cluster, target):
    as_role("viewer")
    assert "needs the operator role" in client.get(f"/clusters/{cluster.name}/").content.decode()
    assert preview(client, cluster, target).status_code == 403


def test_empty_state_when_no_newer_package(client, as_role, cluster):
    as_role("operator")
    html = client.get(f"/clusters/{cluster.name}/").content.decode()
    assert "No newer package for this cluster" in html
    assert "add_package" in html


def test_preview_lists_the_packages_the_run_will_use(client, as_role, cluster, target):
    as_role("operator")
    html = preview(client, cluster, target).content.decode()
    assert "Packages the run will use" in html
    assert "oceanbase-ce-4.2.1.1-101000012023110109.el7.x86_64.rpm" in html
    assert "oceanbase-ce-libs-4.2.1.1-101000012023110109.el7.x86_64.rpm" in html
    assert target.sha256[:16] in html


def test_stop_service_upgrade_button_asks_for_confirmation(client, as_role, target):
    from tests.support.factories import make_cluster

    small = make_cluster("small", zones=1)
    as_role("operator")
    html = preview(client, small, target, mode="STOPSERVICE").content.decode()
    assert 'data-confirm="Stop service upgrade of small' in html
