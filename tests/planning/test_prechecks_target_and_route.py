"""Step 8: release format, target version, target package, dep file, route and every hop's packages."""

import pytest

from tests.planning.helpers import checks_by_key
from tests.support.builds import OB_4_3_0_1_20240322 as TARGET
from tests.support.builds import Build
from tests.support.factories import make_cluster
from tests.support.packages import add_package, add_packages, stock_packages
from tests.support.paths import shipped_dep_yaml
from upgrades.planning.plan import plan_upgrade

TARGET_VERSION, TARGET_RELEASE = TARGET


def plan(cluster, version=TARGET_VERSION, release=TARGET_RELEASE, mode="ROLLING"):
    return plan_upgrade(cluster=cluster, version=version, release=release, mode=mode)


@pytest.mark.django_db
def test_a_release_without_distribution_is_invalid():
    result = plan(make_cluster(zones=3), release="100000242024032211")
    checks = checks_by_key(result)
    assert (checks["release"].err_code, checks["release"].status, checks["release"].message) == (
        "Package.ReleaseFormat.Invalid",
        400,
        "Release format 100000242024032211 is illegal",
    )
    assert [checks[k].ok for k in ("min_version", "newer", "target_package", "route", "packages")] == [None] * 5


@pytest.mark.django_db
def test_targets_below_4_2_are_not_supported():
    result = plan(make_cluster(zones=3), version="4.1.0.2", release="100000042023061322.el7")
    check = checks_by_key(result)["min_version"]
    assert (check.err_code, check.status, check.message) == (
        "Agent.OBVersionNotSupported",
        400,
        "Unsupported OB version '4.1.0.2-100000042023061322', the minimum supported version is '4.2.0.0'",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("version", "release"),
    [
        ("4.2.1.0", "100000102023092807.el7"),
        ("4.2.1.0", "100000092023092100.el7"),
        ("4.2.0.0", "101000032023091319.el7"),
    ],
)
def test_the_same_build_or_a_downgrade_is_refused(version, release):
    check = checks_by_key(plan(make_cluster(zones=3), version=version, release=release))["newer"]
    assert (check.err_code, check.status) == ("OB.Upgrade.ToLowerVersion", 400)
    assert check.message == (
        f"Target version {version}-{release.split('.')[0]} is not greater than current version "
        "4.2.1.0-100000102023092807. Please verify if the parameters have been filled out correctly"
    )


@pytest.mark.django_db
def test_a_hotfix_needs_no_dep_file_and_is_one_hop():
    cluster = make_cluster(zones=3)
    stock_packages(Build("4.2.1.0", "100000112023102412.el7"), cluster.edition, dep_yaml="")
    result = plan(cluster, version="4.2.1.0", release="100000112023102412.el7")
    assert result.ok, result.error
    assert result.route == [
        {
            "version": "4.2.1.0",
            "release": "100000112023102412",
            "build_version": "4.2.1.0-100000112023102412",
            "require_from_binary": False,
        }
    ]
    assert (result.from_version, result.to_version) == ("4.2.1.0-100000102023092807", "4.2.1.0-100000112023102412")
    assert result.max_stage == 30


@pytest.mark.django_db
def test_the_target_package_is_looked_up_for_the_cluster_agents_arch():
    cluster = make_cluster(zones=3, arch="aarch64")
    stock_packages(TARGET, cluster.edition)  # x86_64 only
    check = checks_by_key(plan(cluster))["target_package"]
    assert (check.err_code, check.status, check.message) == (
        "Common.Unexpected",
        500,
        f"oceanbase-ce-{TARGET_VERSION}-{TARGET_RELEASE}.aarch64.rpm: record not found",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("edition", "zones", "name"), [("business", 3, "oceanbase"), ("standalone", 1, "oceanbase-standalone")]
)
def test_the_target_package_name_follows_the_edition(edition, zones, name):
    cluster = make_cluster(edition=edition, zones=zones)
    check = checks_by_key(plan(cluster, mode="STOPSERVICE"))["target_package"]
    assert check.message == f"{name}-{TARGET_VERSION}-{TARGET_RELEASE}.x86_64.rpm: record not found"


@pytest.mark.django_db
def test_a_target_package_without_dep_file_is_refused_for_a_version_change():
    cluster = make_cluster(zones=3)
    stock_packages(TARGET, cluster.edition, dep_yaml="")
    result = plan(cluster)
    check = checks_by_key(result)["dep_yaml"]
    assert (check.err_code, check.status, check.message) == (
        "OB.Upgrade.DepYamlMissing",
        500,
        "Target package upgrade dependency YAML is empty",
    )
    assert checks_by_key(result)["route"].ok is None


@pytest.mark.django_db
def test_an_unreachable_target_has_no_route():
    cluster = make_cluster(zones=3)
    stock_packages(Build("4.4.0.0", "100000012025010101.el7"), cluster.edition)
    check = checks_by_key(plan(cluster, version="4.4.0.0", release="100000012025010101.el7"))["route"]
    assert (check.err_code, check.status) == ("OB.Upgrade.Path.NotExist", 400)
    assert check.message.startswith("Cannot find the upgrade path from the current version 4.2.1.0 to the target")


@pytest.mark.django_db
def test_every_hop_needs_every_package_for_every_architecture():
    cluster = make_cluster(zones=3, version="4.2.0.0", build="101000032023091319")
    # One server on ARM: every hop now needs aarch64 rpms too.
    cluster.servers.filter(pk=cluster.servers.order_by("id").last().pk).update(arch="aarch64")
    stock_packages(TARGET, cluster.edition)
    result = plan(cluster)
    check = checks_by_key(result)["packages"]
    assert (check.err_code, check.status) == ("OB.Package.NotExist", 400)
    assert check.message == (
        "These packages are missing: '["
        "oceanbase-ce-4.2.1.2-${release}.el7.x86_64.rpm "
        "oceanbase-ce-libs-4.2.1.2-${release}.el7.x86_64.rpm "
        "oceanbase-ce-4.2.1.2-${release}.el7.aarch64.rpm "
        "oceanbase-ce-libs-4.2.1.2-${release}.el7.aarch64.rpm "
        "oceanbase-ce-4.3.0.1-100000242024032211.el7.aarch64.rpm "
        "oceanbase-ce-libs-4.3.0.1-100000242024032211.el7.aarch64.rpm]'"
    )
    # The route is known, so the two-hop node list is still previewed.
    assert [r["build_version"] for r in result.route] == ["4.2.1.2", "4.3.0.1-100000242024032211"]
    assert result.max_stage == 50


@pytest.mark.django_db
def test_an_intermediate_hop_takes_the_newest_release_and_skips_deprecated_builds():
    cluster = make_cluster(zones=3, version="4.1.0.0", build="100000192023032010")
    stock_packages(Build("4.2.1.0", "100000102023092807.el7"), cluster.edition)
    names = cluster.required_package_names
    add_packages(names, "4.1.0.2", "100000042023061322.el7")
    add_packages(names, "4.1.0.2", "100000052023070416.el7")
    result = plan(cluster, version="4.2.1.0", release="100000102023092807.el7")
    assert result.ok, result.error
    assert [(p["name"], p["release_distribution"]) for p in result.packages] == [
        ("oceanbase-ce", "100000052023070416.el7"),
        ("oceanbase-ce-libs", "100000052023070416.el7"),
        ("oceanbase-ce", "100000102023092807.el7"),
        ("oceanbase-ce-libs", "100000102023092807.el7"),
    ]
    assert [r["require_from_binary"] for r in result.route] == [True, False]


@pytest.mark.django_db
def test_deprecated_releases_of_a_hop_version_are_not_used():
    yaml_text = shipped_dep_yaml()
    cluster = make_cluster(zones=3, version="4.1.0.2", build="100000042023061322")
    # The only 4.2.0.0 packages are the deprecated RC2 builds: they may not stand in for 4.2.0.0.
    for name in cluster.required_package_names:
        add_package(name, "4.2.0.0", "100000152023080109.el7")
    extra = yaml_text.replace(
        "- version: 4.2.0.0\n  can_be_upgraded_to: [4.2.1.0]",
        "- version: 4.2.0.0\n  can_be_upgraded_to: [4.2.1.0]\n  require_from_binary: true",
    )
    stock_packages(Build("4.2.1.0", "100000102023092807.el7"), cluster.edition, dep_yaml=extra)
    check = checks_by_key(plan(cluster, version="4.2.1.0", release="100000102023092807.el7"))["packages"]
    assert check.err_code == "OB.Package.NotExist"
    assert "oceanbase-ce-4.2.0.0-${release}.el7.x86_64.rpm" in check.message


@pytest.mark.django_db
def test_a_non_numeric_server_version_part_compares_as_zero_as_in_obshell():
    # obshell's CompareVersion ignores Atoi errors (ob/agent/lib/pkg/version.go): 4.2.x reads as 4.2.0, so
    # the target is newer; the route search then finds no start node for the literal "4.2.x".
    cluster = make_cluster(zones=3)
    stock_packages(TARGET, cluster.edition)
    cluster.servers.update(build_version="4.2.x_100000102023092807")
    result = plan(cluster)
    assert checks_by_key(result)["newer"].ok is True
    assert result.error.err_code == "OB.Upgrade.Path.NotExist"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("version", "err_code", "message"),
    [
        (
            "4.x.0.0",
            "Agent.OBVersionNotSupported",
            "Unsupported OB version '4.x.0.0-100000242024032211', the minimum supported version is '4.2.0.0'",
        ),
        ("4.3.x.1", "Common.Unexpected", None),
    ],
)
def test_non_numeric_version_parts_in_the_request_compare_as_zero(version, err_code, message):
    cluster = make_cluster(zones=3)
    stock_packages(TARGET, cluster.edition)
    error = plan(cluster, version=version).error
    assert error.err_code == err_code
    if message:
        assert error.message == message
    else:  # passes the comparisons, then no package has that version
        assert error.message.endswith(f"-{version}-{TARGET.release}.x86_64.rpm: record not found")


@pytest.mark.django_db
def test_a_build_the_dep_file_deprecates_is_planned_as_obshell_runs_it_with_a_note():
    cluster = make_cluster(zones=3)
    dep_yaml = (
        f"- version: 4.2.1.0\n  can_be_upgraded_to: [4.3.0.1, 4.3.0.1-{TARGET.build_number}]\n"
        f"- version: 4.3.0.1-{TARGET.build_number}\n  deprecated: true\n"
        "- version: 4.3.0.1\n"
    )
    stock_packages(TARGET, cluster.edition, dep_yaml=dep_yaml)
    result = plan(cluster)
    assert result.ok, result.error
    check = checks_by_key(result)["route"]
    assert check.message == (
        f"4.2.1.0 -> 4.3.0.1-{TARGET.build_number} (the dep file marks 4.3.0.1-{TARGET.build_number} deprecated; "
        "obshell upgrades to it through the 4.3.0.1 entry, and so does this plan)"
    )
