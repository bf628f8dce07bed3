import pytest

from upgrades.errors import ObshellError
from upgrades.planning.versions import (
    compare_build_versions,
    split_release,
    split_server_build,
    version_tuple,
)


def test_build_versions_compare_numerically_then_by_build():
    assert compare_build_versions("4.2.10.0-1", "4.2.9.0-9") == 1
    assert compare_build_versions("4.2.1.0-100000102023092807", "4.2.1.0-100000102023092807") == 0
    assert compare_build_versions("4.2.1.0-100000102023092807", "4.2.1.0-100000112023092807") == -1
    assert compare_build_versions("4.2.0.0-1", "4.2.0.0") == 1
    assert compare_build_versions("4.1.9.9-999", "4.2.0.0") == -1


def test_version_tuple_rejects_non_numeric_versions():
    assert version_tuple("4.3.0.1") == (4, 3, 0, 1)
    with pytest.raises(ValueError):
        version_tuple("4.3.x")


def test_release_splits_into_build_and_last_part():
    assert split_release("101000062023110109.el7") == ("101000062023110109", "el7")
    assert split_release("101000062023110109.alios7.el8") == ("101000062023110109", "el8")
    with pytest.raises(ObshellError) as info:
        split_release("101000062023110109")
    assert (info.value.err_code, info.value.status) == ("Package.ReleaseFormat.Invalid", 400)
    assert info.value.message == "Release format 101000062023110109 is illegal"


def test_server_build_version_is_truncated_at_the_first_dash():
    assert split_server_build("4.2.1.0_100000102023092807") == ("4.2.1.0", "100000102023092807")
    assert split_server_build("4.2.1.0_100000102023092807-abcdef0123(Sep 28 2023 07:00:00)") == (
        "4.2.1.0",
        "100000102023092807",
    )
