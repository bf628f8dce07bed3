"""The route picture's drawing: one accessible `<svg role="img">`, shapes and words for each mark, every
string from the dep file escaped and clipped, nothing drawn for an empty or oversized graph."""

import re
import xml.etree.ElementTree as ET

from dashboard.pages.route_svg import COL_GAP, NODE_W, PAD_X, clean, route_svg
from tests.support.paths import shipped_dep_yaml
from upgrades.planning.route_graph import build_graph, plan_graph

SVG = "{http://www.w3.org/2000/svg}"
RC2 = ("4.2.0.0", "100000152023080109")
TARGET = ("4.3.0.1", "100000242024032211")


def parsed(svg):
    """The drawing parses as XML: no string from the file broke out of its element."""
    return ET.fromstring(str(svg))


def node(root, key):
    return next(g for g in root.iter(f"{SVG}g") if g.get("data-key") == key)


def texts(element):
    return [t.text or "" for t in element.iter(f"{SVG}text")]


def test_route_preview_is_an_accessible_image_with_marks_in_shapes_and_words():
    graph = plan_graph(dep_yaml=shipped_dep_yaml(), current=RC2, target=TARGET, missing_by_hop=[["a.rpm"], []])
    root = parsed(route_svg(graph, title="Route of beta"))
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "route-graph-title route-graph-desc"
    assert root.find(f"{SVG}title").text == "Route of beta"
    desc = root.find(f"{SVG}desc").text
    assert "Route: 4.2.0.0-100000152023080109 → 4.2.1.2 (hop 1, barrier) → 4.3.0.1 (hop 2)." in desc
    assert "Packages missing for: 4.2.1.2." in desc
    barrier = node(root, "4.2.1.2")
    assert barrier.find(f"{SVG}polygon") is not None, "a barrier has its own shape"
    assert "⚠ missing · barrier" in texts(barrier) and "hop 1" in texts(barrier)
    assert barrier.find(f"{SVG}path").get("class") == "rg-flag"
    assert "a.rpm" in barrier.find(f"{SVG}title").text
    deprecated = node(root, "4.2.0.0-100010022023081817")
    assert "rg-deprecated" in deprecated.get("class") and "deprecated" in texts(deprecated)
    assert deprecated.find(f"{SVG}rect") is not None
    current = node(root, "4.2.0.0-100000152023080109")
    assert "▶ current build" in texts(current)
    assert "◎ target · hop 2" in texts(node(root, "4.3.0.1"))
    route_edges = [p for p in root.iter(f"{SVG}path") if p.get("class") == "rg-route-edge"]
    assert [p.get("data-hop") for p in route_edges] == ["1", "1", "1", "1", "2", "2"]
    badges = [g for g in root.iter(f"{SVG}g") if g.get("class") == "rg-hop"]
    assert [texts(b) for b in badges] == [["1"]] * 4 + [["2"]] * 2
    assert len([p for p in root.iter(f"{SVG}path") if p.get("class") == "rg-edge"]) == 15


def test_nodes_never_overlap_and_the_width_follows_the_versions():
    graph, _ = build_graph(shipped_dep_yaml())
    root = parsed(route_svg(graph, title="t"))
    boxes = [(float(r.get("x")), float(r.get("y"))) for r in root.iter(f"{SVG}rect") if r.get("class") == "rg-shape"]
    for polygon in root.iter(f"{SVG}polygon"):
        xs, ys = zip(*(map(float, p.split(",")) for p in polygon.get("points").split()), strict=True)
        boxes.append((min(xs), min(ys)))
    assert len(boxes) == 16
    for i, (x, y) in enumerate(boxes):
        for x2, y2 in boxes[i + 1 :]:
            assert abs(x - x2) >= NODE_W or abs(y - y2) >= 58, "two nodes overlap"
    assert int(root.get("width")) == 2 * PAD_X + 13 * NODE_W + 12 * COL_GAP


def test_hostile_version_strings_are_escaped_and_clipped():
    hostile = '4.2.0.0-"><script>alert(1)</script><svg onload=alert(2)>'
    long_one = "9" * 200
    text = f"""
- version: '{hostile}'
  can_be_upgraded_to: ['4.3.0.0-{long_one}', "4.3.0.0-\\u202eevil\\u0007"]
"""
    graph, _ = build_graph(text)
    svg = str(route_svg(graph, title="<b>title</b>"))
    assert "<script" not in svg and "<svg onload" not in svg
    assert "<b>" not in svg and "&lt;b&gt;title&lt;/b&gt;" in svg
    assert "\u202e" not in svg and "\u0007" not in svg
    root = parsed(svg)
    assert {g.get("data-key") for g in root.iter(f"{SVG}g") if g.get("data-key")} == {
        hostile,
        f"4.3.0.0-{long_one}",
        "4.3.0.0-?evil?",
    }
    for element in root.iter(f"{SVG}text"):
        assert len(element.text or "") <= 24, "every line is cut to the node's width"
    assert len(svg) < 20_000


def test_clean_counts_wide_characters_twice_and_drops_formatting():
    assert clean("4.2.0.0", 17) == "4.2.0.0"
    assert clean("版本" * 10, 9) == "版本版本…"
    assert clean("a\u202eb\nc") == "a?b?c"
    assert clean("x" * 30, 21) == "x" * 20 + "…"


def test_nothing_is_drawn_for_an_empty_or_oversized_graph():
    empty, _ = build_graph("")
    assert route_svg(empty, title="t") == ""
    text = "\n".join(f"- version: 4.{i}.0.0\n  can_be_upgraded_to: [4.{i + 1}.0.0]" for i in range(400))
    large, _ = build_graph(text)
    assert large.too_large and route_svg(large, title="t") == ""


def test_the_picture_starts_scrolled_to_the_clusters_build():
    graph = plan_graph(dep_yaml=shipped_dep_yaml(), current=RC2, target=TARGET)
    svg = str(route_svg(graph, title="t"))
    column = graph.node("4.2.0.0-100000152023080109").column
    assert int(re.search(r'data-scroll-to="(\d+)"', svg).group(1)) == max(column * (NODE_W + COL_GAP) - COL_GAP // 2, 0)
