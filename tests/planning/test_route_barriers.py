"""Barrier computation (spec 4.1 step 6): when_come_from chains from the previous barrier; a bare bool doesn't."""

import pytest

from tests.planning.helpers import depfile
from upgrades.errors import ObshellError
from upgrades.planning.route import DepGraph, shortest_route

YAML = depfile("chained_barriers.yml")


@pytest.mark.parametrize(
    ("start", "route"),
    [
        ("4.2.0.0", ["4.2.0.0", "4.2.1.0", "4.2.2.0", "4.2.3.0", "4.2.5.0"]),
        ("4.2.1.0", ["4.2.1.0", "4.2.2.0", "4.2.3.0", "4.2.5.0"]),
        ("4.2.2.0", ["4.2.2.0", "4.2.4.0", "4.2.5.0"]),
        ("4.2.3.0", ["4.2.3.0", "4.2.5.0"]),
        ("4.2.4.0", ["4.2.4.0", "4.2.5.0"]),
    ],
)
def test_only_barriers_and_the_target_become_hops(start, route):
    found = shortest_route(YAML, current_version=start, current_build="1", target_version="4.2.5.0", target_build="9")
    assert [n.build_version for n in found] == route


def test_when_come_from_matches_version_with_build():
    yaml_text = """
- version: 4.2.0.0-100000152023080109
  can_be_upgraded_to: [4.2.0.0]
  deprecated: true
- version: 4.2.0.0
  can_be_upgraded_to: [4.2.1.0]
- version: 4.2.1.0
  can_be_upgraded_to: [4.3.0.0]
  require_from_binary:
    value: true
    when_come_from: [4.2.0.0-100000152023080109]
"""
    rc2 = shortest_route(
        yaml_text,
        current_version="4.2.0.0",
        current_build="100000152023080109",
        target_version="4.3.0.0",
        target_build="1",
    )
    ga = shortest_route(
        yaml_text,
        current_version="4.2.0.0",
        current_build="101000032023091319",
        target_version="4.3.0.0",
        target_build="1",
    )
    assert [n.build_version for n in rc2] == ["4.2.0.0-100000152023080109", "4.2.1.0", "4.3.0.0"]
    assert [n.build_version for n in ga] == ["4.2.0.0", "4.3.0.0"]


def test_value_false_is_never_a_barrier():
    yaml_text = """
- version: 4.2.0.0
  can_be_upgraded_to: [4.2.1.0]
- version: 4.2.1.0
  can_be_upgraded_to: [4.3.0.0]
  require_from_binary: {value: false, when_come_from: [4.2.0.0]}
"""
    found = shortest_route(
        yaml_text, current_version="4.2.0.0", current_build="1", target_version="4.3.0.0", target_build="1"
    )
    assert [n.build_version for n in found] == ["4.2.0.0", "4.3.0.0"]


def test_duplicate_versions_are_an_unexpected_error():
    with pytest.raises(ObshellError) as info:
        DepGraph.parse(depfile("duplicate_version.yml"))
    assert (info.value.err_code, info.value.status, info.value.message) == (
        "Common.Unexpected",
        500,
        "version 4.2.1.0 has duplicate",
    )


@pytest.mark.parametrize("text", ["- version: [unclosed", "version: 4.2.1.0", "- can_be_upgraded_to: [4.3.0.1]"])
def test_malformed_dep_files_are_unexpected_errors(text):
    with pytest.raises(ObshellError) as info:
        DepGraph.parse(text)
    assert (info.value.err_code, info.value.status) == ("Common.Unexpected", 500)
