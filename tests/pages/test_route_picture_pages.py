"""The route picture on its pages: the preview draws the plan's route beside its words, and the packages page
draws the whole graph of a stored dep file (chosen by `?graph=`, the shipped one when none is stored)."""

import re

import pytest

from tests.support.builds import OB_4_2_0_0_20230801, OB_4_2_1_2_20231205, OB_4_3_0_1_20240322
from tests.support.factories import make_cluster
from tests.support.packages import add_package, stock_packages

pytestmark = pytest.mark.django_db


def svg_of(html):
    match = re.search(r'<svg[^>]*role="img".*?</svg>', html, re.S)
    return match.group(0) if match else None


def preview(client, cluster, target):
    data = {"package": target.pk, "mode": "ROLLING", "upgrade_dir": "", "reason": "", "action": "preview"}
    return client.post(f"/clusters/{cluster.name}/", data).content.decode()


@pytest.fixture
def rc2_cluster(db):
    return make_cluster("beta", version=OB_4_2_0_0_20230801.version, build=OB_4_2_0_0_20230801.build_number)


def test_preview_draws_the_route_and_lists_its_hops_with_the_missing_rpms(client, as_role, rc2_cluster):
    target = stock_packages(OB_4_3_0_1_20240322)
    as_role("operator")
    html = preview(client, rc2_cluster, target)
    svg = svg_of(html)
    assert svg is not None and "<title" in svg and "<desc" in svg
    assert svg.count('class="rg-route-edge"') == 6
    assert re.search(r'class="[^"]*rg-missing[^"]*" data-key="4\.2\.1\.2"', svg)
    hops = re.search(r"<ol class=\"route-hops\".*?</ol>", html, re.S).group(0)
    assert hops.count("<li") == 2
    assert "oceanbase-ce-libs-4.2.1.2-${release}.el7.x86_64.rpm" in hops
    assert "4.2.1.2 → 4.3.0.1-100000242024032211" in hops
    assert "Legend" in html


def test_once_the_barrier_is_stored_nothing_is_flagged(client, as_role, rc2_cluster):
    target = stock_packages(OB_4_3_0_1_20240322)
    stock_packages(OB_4_2_1_2_20231205, dep_yaml="")
    as_role("operator")
    html = preview(client, rc2_cluster, target)
    svg = svg_of(html)
    assert "rg-missing" not in svg and "data-missing" not in html
    assert svg.count('class="rg-route-edge"') == 6


def test_a_one_hop_preview_highlights_one_hop(client, as_role, cluster, target):
    as_role("operator")
    svg = svg_of(preview(client, cluster, target))
    assert set(re.findall(r'rg-route-edge" data-hop="(\d+)"', svg)) == {"1"}
    assert re.search(r'class="[^"]*rg-current[^"]*" data-key="4\.2\.1\.0"', svg)
    assert re.search(r'class="[^"]*rg-target[^"]*" data-key="4\.2\.1\.1"', svg)


def test_a_hostile_dep_file_is_drawn_escaped(client, as_role, cluster):
    hostile = "4.2.1.1-1<img src=x onerror=alert(1)>"
    dep = f"- version: 4.2.1.0\n  can_be_upgraded_to: ['{hostile}', 4.2.1.1]\n- version: 4.2.1.1\n"
    target = add_package("oceanbase-ce", "4.2.1.1", "101000012023110109.el7", dep_yaml=dep)
    add_package("oceanbase-ce-libs", "4.2.1.1", "101000012023110109.el7")
    as_role("operator")
    html = preview(client, cluster, target)
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in svg_of(html)


def test_packages_page_draws_the_newest_dep_file_with_stored_versions(client, as_role):
    stock_packages(OB_4_3_0_1_20240322)
    older = add_package("oceanbase-ce", "4.2.1.2", "102000042023120514.el7", dep_yaml="- version: 4.2.1.2\n")
    add_package("obshell", "4.2.1.2", "102000042023120514.el7")
    as_role("viewer")
    html = client.get("/packages/").content.decode()
    svg = svg_of(html)
    assert svg.count('class="rg-node') == 16
    assert re.search(r'class="rg-node rg-stored" data-key="4\.3\.0\.1"', svg)
    # 4.2.1.2's oceanbase-ce is stored (obshell's rpm of the same number is not an OceanBase build).
    assert re.search(r'class="rg-node rg-barrier rg-stored" data-key="4\.2\.1\.2"', svg)
    assert "✓ 1 rpm" in svg
    assert "oceanbase-ce-4.3.0.1-100000242024032211.el7.x86_64.rpm" in re.search(
        r"<select.*?</select>", html, re.S
    ).group(0)
    # The other stored dep file, by its package.
    other = client.get(f"/packages/?graph={older.pk}").content.decode()
    assert svg_of(other).count('class="rg-node') == 1


def test_packages_page_draws_the_shipped_file_when_no_package_carries_one(client, as_role):
    as_role("viewer")
    html = client.get("/packages/").content.decode()
    assert "this is the one this dashboard ships" in html
    assert svg_of(html).count('class="rg-node') == 16
    assert "rg-stored" not in svg_of(html)


def test_a_dep_file_too_large_to_draw_says_so(client, as_role):
    dep = "\n".join(f"- version: 4.{i}.0.0\n  can_be_upgraded_to: [4.{i + 1}.0.0]" for i in range(300))
    add_package("oceanbase-ce", "4.3.0.1", "100000242024032211.el7", dep_yaml=dep)
    as_role("viewer")
    html = client.get("/packages/").content.decode()
    assert svg_of(html) is None
    assert "The dep file declares 300 versions: too many to draw." in html


def test_a_dep_file_with_no_versions_says_so(client, as_role):
    add_package("oceanbase-ce", "4.3.0.1", "100000242024032211.el7", dep_yaml="# no versions yet\n")
    as_role("viewer")
    html = client.get("/packages/").content.decode()
    assert svg_of(html) is None
    assert "The dep file declares no versions: there is nothing to draw." in html
