"""The dep file is validated when its package is uploaded: plain strings where obshell expects strings,
bools where it expects bools, no anchors or aliases, bounded size; messages name a key and a line, never
the value."""

import pytest
from django.core.management import CommandError, call_command

from tests.packages.helpers import stored_files
from tests.security import crafted
from upgrades.demo.rpms import write_oceanbase_rpms
from upgrades.models import Package

BAD = {
    "list as version": ("- version: [4.2.1.0, {a: b}]\n", "entry 1: version must be a string (line 1)"),
    "map as target": ("- version: 4.2.1.0\n  can_be_upgraded_to: [{x: 4.3.0.1}]\n", "line 2"),
    "string as list": ("- version: 4.2.1.0\n  can_be_upgraded_to: 4.3.0.1\n", "must be a list of strings (line 2)"),
    "string as bool": ("- version: 4.2.1.0\n  deprecated: maybe\n", "deprecated must be true or false (line 2)"),
    "anchor only": ("- &x version: 4.2.1.0\n", "YAML anchors and aliases are not allowed (line 1)"),
    "merge key": ("- version: 4.2.1.0\n  <<: *x\n", "YAML anchors and aliases are not allowed"),
    "deep nesting": ("- version: 4.2.1.0\n  junk: " + "[" * 50 + "]" * 50 + "\n", "nesting deeper than 8 levels"),
    "long string": (f"- version: '{'4' * 1000}'\n", "longer than 256 characters"),
}


@pytest.mark.parametrize("name", BAD)
def test_a_malformed_dep_file_is_refused_with_a_short_message(name):
    from upgrades.planning.depfile import DepFileError, load_dep_file

    text, expected = BAD[name]
    with pytest.raises(DepFileError) as raised:
        load_dep_file(text)
    assert expected in str(raised.value)
    assert "{a: b}" not in str(raised.value) and len(str(raised.value)) < 300


def test_scalars_are_read_as_written():
    from upgrades.planning.depfile import load_dep_file

    entries = load_dep_file("- version: 4.10\n  can_be_upgraded_to: [4.20, '4.3.0.1']\n  deprecated: false\n")
    assert entries == [{"version": "4.10", "can_be_upgraded_to": ["4.20", "4.3.0.1"], "deprecated": False}]


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["list as version", "string as bool"])
def test_a_package_with_a_malformed_dep_file_is_refused_and_not_stored(name, tmp_path, settings):
    text, expected = BAD[name]
    ce = write_oceanbase_rpms(
        tmp_path, edition="community", version=crafted.VERSION, release=crafted.RELEASE, dep_yaml=text
    )[0]
    with pytest.raises(CommandError) as raised:
        call_command("add_package", str(ce))
    assert str(raised.value).startswith(f"{ce.name}: OB.Package.DepYaml.Invalid: ")
    assert expected in str(raised.value)
    assert Package.objects.count() == 0
    assert stored_files(settings) == []
