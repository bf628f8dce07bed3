import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.support.builds import OB_4_3_0_1_20240322 as TARGET
from tests.support.factories import make_cluster
from tests.support.packages import stock_packages
from upgrades.models import AuditEntry, Dag, Node

TARGET_VERSION, TARGET_RELEASE = TARGET


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("plan_upgrade", *args, stdout=out, stderr=err)
    return out.getvalue()


@pytest.mark.django_db
def test_readable_plan_lists_route_checks_and_numbered_nodes():
    cluster = make_cluster("east", zones=3)
    stock_packages(TARGET, cluster.edition)
    audits = AuditEntry.objects.count()
    text = run("east", "--version", TARGET_VERSION, "--release", TARGET_RELEASE, "--mode", "rolling")
    assert f"OB rolling upgrade {TARGET_VERSION}-{TARGET_RELEASE}" in text
    assert "Route (1 hop):" in text and "0. 4.3.0.1-100000242024032211" in text
    assert "✓ Upgrade route" in text and "✗" not in text
    assert "Nodes (30 stages):" in text
    assert " 1. Check the python environment  [P x3]" in text
    assert "14. Stop zone1  [S]  hop 0" in text
    assert "30. Remove upgrade check task dir  [P x3]" in text
    assert text.rstrip().endswith("OK: the upgrade can start.")
    assert (Dag.objects.count(), Node.objects.count(), AuditEntry.objects.count()) == (0, 0, audits)


@pytest.mark.django_db
def test_json_prints_exactly_the_plan_dict():
    cluster = make_cluster("west", zones=3)
    stock_packages(TARGET, cluster.edition)
    out = run(
        "west",
        "--version",
        TARGET_VERSION,
        "--release",
        TARGET_RELEASE,
        "--mode",
        "STOPSERVICE",
        "--freeze-server",
        "--upgrade-dir",
        "/data/upgrade",
        "--json",
    )
    data = json.loads(out)
    assert (data["mode"], data["max_stage"], data["freeze_server"], data["upgrade_dir"]) == (
        "STOPSERVICE",
        19,
        True,
        "/data/upgrade",
    )


@pytest.mark.django_db
def test_a_failed_check_exits_non_zero_with_its_err_code():
    cluster = make_cluster("small", zones=2)
    stock_packages(TARGET, cluster.edition)
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command(
            "plan_upgrade",
            "small",
            "--version",
            TARGET_VERSION,
            "--release",
            TARGET_RELEASE,
            "--mode",
            "rolling",
            stdout=out,
            stderr=err,
        )
    assert info.value.returncode == 1
    assert str(info.value) == (
        "OB.Upgrade.UnableToRollingUpgrade: Rolling upgrade requires at least 3 zones (or 2 zones for shared storage mode)"
    )
    text = out.getvalue()
    assert "✗ Zones for a rolling upgrade" in text
    assert "[OB.Upgrade.UnableToRollingUpgrade] (HTTP 400)" in text
    assert "hint: A rolling upgrade needs at least 3 zones" in text
    assert "NOT OK" in text


@pytest.mark.django_db
def test_json_on_failure_is_still_one_object_and_exits_non_zero():
    make_cluster("bare", zones=3)
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command(
            "plan_upgrade",
            "bare",
            "--version",
            TARGET_VERSION,
            "--release",
            TARGET_RELEASE,
            "--mode",
            "rolling",
            "--json",
            stdout=out,
        )
    data = json.loads(out.getvalue())
    assert data["error"]["errCode"] == "Common.Unexpected"
    assert data["ok"] is False


@pytest.mark.django_db
def test_unknown_cluster():
    with pytest.raises(CommandError, match="cluster 'nope' does not exist"):
        run("nope", "--version", TARGET_VERSION, "--release", TARGET_RELEASE, "--mode", "rolling")


@pytest.mark.django_db
def test_readable_plan_names_the_rpms_a_hop_lacks():
    from tests.support.builds import OB_4_2_0_0_20230801 as RC2

    make_cluster("rc2", zones=3, version=RC2.version, build=RC2.build_number)
    stock_packages(TARGET, "community")
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command(
            "plan_upgrade",
            "rc2",
            "--version",
            TARGET_VERSION,
            "--release",
            TARGET_RELEASE,
            "--mode",
            "rolling",
            stdout=out,
        )
    lines = out.getvalue().splitlines()
    barrier = next(line for line in lines if line.startswith("  0. 4.2.1.2"))
    assert barrier.endswith(
        "[barrier: installed from binary]  [not in the store: oceanbase-ce-4.2.1.2-${release}.el7.x86_64.rpm "
        "oceanbase-ce-libs-4.2.1.2-${release}.el7.x86_64.rpm]"
    )
    target = next(line for line in lines if line.startswith("  1. 4.3.0.1"))
    assert "not in the store" not in target
