import io
import time

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from upgrades.demo.fleet import DEMO_CLUSTERS, DEMO_OBSHELL, TARGET, release_of
from upgrades.models import Cluster, Package
from upgrades.planning.agent_plan import plan_agent_upgrade
from upgrades.planning.plan import plan_upgrade
from upgrades.roles import user_role


def seed():
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_seed_demo_builds_an_upgradable_fleet_once():
    started = time.monotonic()
    first = seed()
    elapsed = time.monotonic() - started
    assert Cluster.objects.count() == 3
    packages = Package.objects.count()
    # community 4.2.1.2 + 4.3.0.1 (ce, libs), standalone 4.2.1.2 + 4.3.0.1, one obshell
    assert packages == 7
    # Passwords are printed once and work.
    lines = [line.split() for line in first.splitlines() if line.startswith("  ") and len(line.split()) == 2]
    creds = dict(lines)
    assert set(creds) == {"viewer", "operator", "admin"}
    for role, password in creds.items():
        assert user_role(authenticate(username=role, password=password)) == role
    for demo in DEMO_CLUSTERS:
        assert f"python manage.py plan_upgrade {demo.name} --version {TARGET}" in first

    second = seed()
    assert (Cluster.objects.count(), Package.objects.count()) == (3, packages)
    assert "already exist" in second and not any(p in second for p in creds.values())
    assert "(0 new)" in second
    assert elapsed < 60  # generous: the figure itself is reported by the benchmark


@pytest.mark.django_db(transaction=True)
def test_every_demo_cluster_has_a_passing_plan_and_one_has_a_barrier_hop():
    seed()
    hops = {}
    for demo in DEMO_CLUSTERS:
        cluster = Cluster.objects.get(name=demo.name)
        plan = plan_upgrade(cluster=cluster, version=TARGET, release=release_of(TARGET), mode=demo.mode)
        assert plan.ok, (demo.name, plan.error)
        hops[demo.name] = [r["build_version"] for r in plan.route]
        assert any(r["require_from_binary"] for r in plan.route) == (len(plan.route) > 1)
        version, build = DEMO_OBSHELL
        agent_plan = plan_agent_upgrade(cluster=cluster, version=version, release=f"{build}.el7")
        assert agent_plan.ok and not agent_plan.missing_packages, (demo.name, agent_plan.error)
    assert hops == {
        "demo-hangzhou": ["4.3.0.1-100000242024032211"],
        "demo-shanghai": ["4.2.1.2", "4.3.0.1-100000242024032211"],
        "demo-standalone": ["4.2.1.2", "4.3.0.1-100000242024032211"],
    }
