"""Parsers have budgets (issue 9): a crafted RPM header, cpio name or payload, and a YAML alias bomb, each get
a clear error with little memory, and nothing is stored.

Each crafted input is first parsed in a child process with a capped address space (see bounded.py), which
reports the error and the peak RSS growth; only then is it uploaded here, through `add_package`.
"""

import pytest
from django.core.management import CommandError, call_command

from tests.packages.helpers import stored_files
from tests.security import crafted
from tests.security.bounded import RSS_BUDGET_MB, run_bounded
from upgrades.models import AuditEntry, Package

PARSE = """
from upgrades.packages.rpm import read_header, read_payload_member
def parse(path):
    with open(path, "rb") as f:
        header = read_header(f)
        return read_payload_member(f, header, "/home/admin/oceanbase/etc/oceanbase_upgrade_dep.yml")
"""

CASES = {
    # ~0.5 MB: 4,000 entries (within the entry bound), each claiming the 440 kB store as its items.
    "many-entries": (
        lambda p: crafted.many_entries_rpm(p, entries=4000, store_size=440_000),
        "main header entries declare more items than the header holds",
    ),
    # ~0.5 MB: 30,000 small entries.
    "too-many-entries": (
        lambda p: crafted.many_entries_rpm(p, entries=30_000, store_size=20_000),
        "implausible main header size",
    ),
    # ~0.2 MB: the first cpio member's name declares almost 4 GiB; 6 GiB of zeros follow.
    "huge-cpio-name": (crafted.huge_name_rpm, "cpio member name of 4294967280 bytes"),
    # ~0.3 MB: a member of almost 4 GiB, 2 GiB of zeros in its xz payload.
    "decompression-bomb": (crafted.bomb_rpm, "payload expands beyond"),
}


def _add_package(path):
    with pytest.raises(CommandError) as raised:
        call_command("add_package", str(path))
    return str(raised.value)


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES)
def test_a_crafted_rpm_gets_a_clear_error_within_budget(case, tmp_path, settings):
    build, expected = CASES[case]
    path = build(tmp_path / f"{case}.rpm")
    report = run_bounded(PARSE, f"parse({str(path)!r})")
    assert report["error"] is not None, report
    assert report["error"]["type"] == "RpmReadError", report
    assert expected in report["error"]["message"]
    assert report["rss_growth_mb"] < RSS_BUDGET_MB

    message = _add_package(path)
    assert message.startswith(f"{case}.rpm: Common.Unexpected: '{case}.rpm' is a damaged RPM package: ")
    assert expected in message and "\n" not in message
    assert Package.objects.count() == 0
    assert stored_files(settings) == []
    assert AuditEntry.objects.get().outcome == AuditEntry.Outcome.REFUSED


ROUTE = "from upgrades.planning.route import route_for\n"


def test_an_alias_bomb_is_refused_when_planning_within_budget():
    text = crafted.alias_bomb_yaml()
    assert len(text) < 500
    call = (
        f"route_for({text!r}, current_version='4.2.1.0', current_build='1', target_version='4.3.0.1', target_build='1')"
    )
    report = run_bounded(ROUTE, call)
    assert report["error"] is not None, report
    assert report["error"]["err_code"] == "Common.Unexpected", report
    assert "YAML anchors and aliases are not allowed (line 2)" in report["error"]["message"]
    assert report["rss_growth_mb"] < RSS_BUDGET_MB


@pytest.mark.django_db
def test_an_alias_bomb_is_refused_at_upload(tmp_path, settings):
    from upgrades.demo.rpms import write_oceanbase_rpms

    ce = write_oceanbase_rpms(
        tmp_path,
        edition="community",
        version=crafted.VERSION,
        release=crafted.RELEASE,
        dep_yaml=crafted.alias_bomb_yaml(),
    )[0]
    message = _add_package(ce)
    assert message == (
        f"{ce.name}: OB.Package.DepYaml.Invalid: '{ce.name}': /home/admin/oceanbase/etc/oceanbase_upgrade_dep.yml "
        "is invalid: YAML anchors and aliases are not allowed (line 2)"
    )
    assert Package.objects.count() == 0
    assert stored_files(settings) == []


@pytest.mark.django_db
def test_a_megabyte_package_name_never_reaches_a_message(tmp_path, settings):
    from upgrades.packages.rpmwriter import write_rpm

    name = "oceanbase-ce" + "x" * 1_000_000
    rpm = write_rpm(tmp_path / "long.rpm", name=name, version="4.3.0.1", release="1.el7", files={"/a": b"a"})
    message = _add_package(rpm)
    assert message.endswith("RPM header name is longer than 255 bytes")
    assert len(message) < 300
    assert Package.objects.count() == 0
    assert stored_files(settings) == []


LATTICE = """
def crafted_barrier_lattice(width=20, depth=60):
    layers = [[f"5.{d}.{w}.0" for w in range(width)] for d in range(depth)]
    lines = []
    for d, layer in enumerate(layers):
        for version in layer:
            lines.append(f"- version: {version}")
            if d + 1 < depth:
                lines.append(f"  can_be_upgraded_to: [{', '.join(layers[d + 1])}]")
            if d > 0:
                wcf = ", ".join(layers[d - 1][:3])
                lines.append(f"  require_from_binary: {{value: true, when_come_from: [{wcf}]}}")
    return "\\n".join(lines) + "\\n", layers[0][0], layers[-1][-1]

def plan_lattice():
    text, start, target = crafted_barrier_lattice()
    assert len(text) < 1024 * 1024
    return len(route_for(text, current_version=start, current_build="1", target_version=target, target_build="1"))
"""


def test_a_crafted_barrier_lattice_is_planned_within_budget():
    # 1,200 versions, each a conditional barrier, 24,000 edges: the route search weighs (version, previous barrier)
    # states; it stays within the memory budget and finds the route (a file beyond its state budget gets obshell's
    # route instead: tests/planning/test_route_accepts_what_obshell_accepts.py).
    report = run_bounded(ROUTE + LATTICE, "plan_lattice()")
    assert report["error"] is None, report
    assert int(report["result"]) >= 2
    assert report["rss_growth_mb"] < RSS_BUDGET_MB, report
