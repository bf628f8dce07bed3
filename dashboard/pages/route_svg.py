"""Draws a placed `RouteGraph` (upgrades/planning/route_graph.py) as inline SVG, server-side.

Every string that came from a dep file is cleaned (control and formatting characters, bidi overrides) and
clipped to the node's width before it is escaped, so a hostile version can neither break the markup nor the
layout; the full text stays in the node's tooltip. States are drawn with a shape or a text as well as a colour.
"""

import unicodedata

from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

NODE_W = 148
NODE_H = 58
COL_GAP = 52
ROW_GAP = 40  # room for the tag ("current build", "hop 2") above a node
PAD_X = 20
PAD_TOP = 30
ARC_ROOM = 46  # above the first row, for edges that skip versions
BACK_ROOM = 40  # below the last row, for edges that go to a lower version
VERSION_CELLS = 16  # 13px bold monospace in NODE_W
LINE_CELLS = 20  # 11px monospace in NODE_W (an 18-digit build number fits)
TAG_CELLS = 24
TOOLTIP_CHARS = 300


def clean(text, cells=None):
    """`text` without control or formatting characters, cut to `cells` monospace cells (wide characters count
    two) with an ellipsis. Not escaped."""
    out, used = [], 0
    for char in str(text):
        if unicodedata.category(char) in ("Cc", "Cf", "Co", "Cs", "Zl", "Zp"):
            char = "?"
        width = 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
        if cells is not None and used + width > cells:
            while out and used + 1 > cells:
                used -= 2 if unicodedata.east_asian_width(out[-1]) in ("W", "F") else 1
                out.pop()
            out.append("…")
            break
        out.append(char)
        used += width
    return "".join(out)


def _text(value, cells=None):
    return escape(clean(value, cells))


def _x(node):
    return PAD_X + node.column * (NODE_W + COL_GAP)


class _Frame:
    """Pixel geometry of one picture."""

    def __init__(self, picture):
        pairs = [(picture.node(e.source), picture.node(e.target)) for e in picture.edges + picture.route]
        self.arcs = any(t.row == s.row == 0 and (t.column > s.column + 1 or t.column < s.column) for s, t in pairs)
        self.back = any(t.column < s.column and not t.row == s.row == 0 for s, t in pairs)
        self.top = PAD_TOP + (ARC_ROOM if self.arcs else 0)
        self.bottom_of_rows = self.top + picture.rows * (NODE_H + ROW_GAP) - ROW_GAP
        self.width = PAD_X * 2 + picture.columns * (NODE_W + COL_GAP) - COL_GAP
        self.height = self.bottom_of_rows + 16 + (BACK_ROOM if self.back else 0)

    def y(self, node):
        return self.top + node.row * (NODE_H + ROW_GAP)

    def edge(self, source, target):
        """The path of an edge and the point where its hop number goes."""
        sx, sy, tx, ty = _x(source), self.y(source), _x(target), self.y(target)
        if target.column == source.column:
            # Builds of one version: out of the source's right side, through the gap right of the column, into
            # the target's right side below the middle (where the target's own steps leave); farther rows swing
            # wider so their lines do not lie on each other.
            bulge = min(18 + 10 * abs(target.row - source.row), COL_GAP - 10)
            x0, y0 = sx + NODE_W, sy + NODE_H / 2
            x1, y1 = tx + NODE_W + 6, ty + NODE_H - 12
            return _cubic((x0, y0), (x0 + bulge, y0), (x1 + bulge, y1), (x1, y1))
        if source.row == target.row == 0 and (target.column > source.column + 1 or target.column < source.column):
            # Skips versions (or goes back) along the first row: an arc over it, leaving and landing on the right
            # part of the tops (the tags above a node sit on its left part), higher for a longer span.
            x0, y0 = sx + NODE_W - 44, sy
            x1, y1 = tx + NODE_W - 20, ty - 6
            high = self.top - 34 - min(6 * (abs(target.column - source.column) - 2), 30)
            return _cubic((x0, y0), (x0, high), (x1, high), (x1, y1))
        if target.column < source.column:
            # To a lower version: under the rows.
            x0, y0 = sx + NODE_W / 2, sy + NODE_H
            x1, y1 = tx + NODE_W / 2, ty + NODE_H + 6
            low = self.bottom_of_rows + BACK_ROOM - 8
            return _cubic((x0, y0), (x0, low), (x1, low), (x1, y1))
        x0, y0 = sx + NODE_W, sy + NODE_H / 2
        x1, y1 = tx - 6, ty + NODE_H / 2
        mid = (x0 + x1) / 2
        return _cubic((x0, y0), (mid, y0), (mid, y1), (x1, y1))


def _cubic(p0, p1, p2, p3):
    d = f"M{p0[0]:.1f},{p0[1]:.1f} C{p1[0]:.1f},{p1[1]:.1f} {p2[0]:.1f},{p2[1]:.1f} {p3[0]:.1f},{p3[1]:.1f}"
    mid = tuple((a + 3 * b + 3 * c + d) / 8 for a, b, c, d in zip(p0, p1, p2, p3, strict=True))
    return d, mid


def _octagon(x, y, w, h, cut=9):
    points = [
        (x + cut, y),
        (x + w - cut, y),
        (x + w, y + cut),
        (x + w, y + h - cut),
        (x + w - cut, y + h),
        (x + cut, y + h),
        (x, y + h - cut),
        (x, y + cut),
    ]
    return " ".join(f"{px:.1f},{py:.1f}" for px, py in points)


def node_marks(node):
    """The words under a node's build, most urgent first."""
    marks = []
    if node.missing:
        marks.append(_("⚠ missing"))
    if node.barrier:
        marks.append(_("barrier"))
    if node.deprecated:
        marks.append(_("deprecated"))
    if node.stored:
        marks.append(ngettext("✓ %(n)d rpm", "✓ %(n)d rpms", len(node.stored)) % {"n": len(node.stored)})
    if not node.declared:
        marks.append(_("not declared"))
    return marks


def node_tag(node):
    """The words above a node: the cluster's build, the target, the hop that ends here."""
    parts = []
    if node.current:
        parts.append(_("▶ current build"))
    if node.target:
        parts.append(_("◎ target"))
    if node.hop is not None:
        parts.append(_("hop %(n)d") % {"n": node.hop})
    return " · ".join(parts)


def _tooltip(node):
    lines = [node.key, *node_marks(node)]
    if node.barrier_from:
        lines.append(_("barrier when coming from: %(from)s") % {"from": ", ".join(node.barrier_from)})
    if node.route_barrier:
        lines.append(_("installed from binary on this route"))
    if node.missing:
        lines.append(_("not in the store: %(rpms)s") % {"rpms": " ".join(node.missing)})
    if node.stored:
        lines.append(_("in the store: %(rpms)s") % {"rpms": " ".join(node.stored)})
    return clean("\n".join(lines))[:TOOLTIP_CHARS]


def _node(frame, node):
    x, y = _x(node), frame.y(node)
    classes = ["rg-node"]
    for flag, name in (
        (node.barrier, "rg-barrier"),
        (node.deprecated, "rg-deprecated"),
        (node.on_route, "rg-on-route"),
        (bool(node.missing), "rg-missing"),
        (bool(node.stored), "rg-stored"),
        (node.current, "rg-current"),
        (node.target, "rg-target"),
        (not node.declared, "rg-undeclared"),
    ):
        if flag:
            classes.append(name)
    out = [f'<g class="{" ".join(classes)}" data-key="{_text(node.key)}">', f"<title>{escape(_tooltip(node))}</title>"]
    if node.barrier:
        out.append(f'<polygon class="rg-shape" points="{_octagon(x, y, NODE_W, NODE_H)}"/>')
    else:
        out.append(f'<rect class="rg-shape" x="{x}" y="{y}" width="{NODE_W}" height="{NODE_H}" rx="6"/>')
    # The missing flag takes the version line's right end.
    version_cells = VERSION_CELLS - 3 if node.missing else VERSION_CELLS
    out.append(f'<text class="rg-version" x="{x + 10}" y="{y + 19}">{_text(node.version, version_cells)}</text>')
    build = _("any build") if node.any_build else node.release
    out.append(
        f'<text class="rg-build{" rg-any" if node.any_build else ""}" x="{x + 10}" y="{y + 34}">'
        f"{_text(build, LINE_CELLS)}</text>"
    )
    marks = node_marks(node)
    if marks:
        out.append(f'<text class="rg-marks" x="{x + 10}" y="{y + 50}">{_text(" · ".join(marks), LINE_CELLS)}</text>')
    if node.missing:
        # A warning triangle in the node's corner: the flag does not rest on colour alone.
        cx, cy = x + NODE_W - 18, y + 12
        out.append(
            f'<path class="rg-flag" d="M{cx},{cy - 10} L{cx + 11},{cy + 9} L{cx - 11},{cy + 9} Z"/>'
            f'<text class="rg-flag-text" x="{cx}" y="{cy + 7}" text-anchor="middle">!</text>'
        )
    tag = node_tag(node)
    if tag:
        out.append(f'<text class="rg-tag" x="{x + 2}" y="{y - 7}">{_text(tag, TAG_CELLS)}</text>')
    out.append("</g>")
    return "".join(out)


def _description(picture):
    versions = len({n.version for n in picture.nodes})
    text = [
        ngettext(
            "%(versions)d version in %(builds)d entries, %(edges)d allowed step.",
            "%(versions)d versions in %(builds)d entries, %(edges)d allowed steps.",
            len(picture.edges),
        )
        % {"versions": versions, "builds": len(picture.nodes), "edges": len(picture.edges)}
    ]
    barriers = [n.key for n in picture.nodes if n.barrier]
    if barriers:
        text.append(_("Barriers: %(keys)s.") % {"keys": ", ".join(barriers)})
    deprecated = [n.key for n in picture.nodes if n.deprecated]
    if deprecated:
        text.append(_("Deprecated: %(keys)s.") % {"keys": ", ".join(deprecated)})
    hops = picture.hops
    if hops:
        steps = [hops[0][1].key] + [
            _("%(key)s (hop %(n)d%(barrier)s)")
            % {"key": end.key, "n": number, "barrier": _(", barrier") if end.route_barrier else ""}
            for number, _start, end, _passed in hops
        ]
        text.append(_("Route: %(steps)s.") % {"steps": " → ".join(steps)})
    missing = [n.key for n in picture.nodes if n.missing]
    if missing:
        text.append(_("Packages missing for: %(keys)s.") % {"keys": ", ".join(missing)})
    stored = [n.key for n in picture.nodes if n.stored]
    if stored:
        text.append(_("Packages stored for: %(keys)s.") % {"keys": ", ".join(stored)})
    return clean(" ".join(text))


def route_svg(picture, *, title, id_prefix="route-graph"):
    """The picture as one `<svg role="img">` string (safe to put in a template), or "" when there is nothing
    to draw."""
    if picture.too_large or not picture.nodes:
        return ""
    frame = _Frame(picture)
    prefix = escape(id_prefix)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="route-graph" role="img" width="{frame.width}" '
        f'height="{frame.height:.0f}" viewBox="0 0 {frame.width} {frame.height:.0f}" '
        f'aria-labelledby="{prefix}-title {prefix}-desc" {_scroll_to(picture)}>',
        f'<title id="{prefix}-title">{_text(title)}</title>',
        f'<desc id="{prefix}-desc">{escape(_description(picture))}</desc>',
        "<defs>",
        f'<marker id="{prefix}-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path class="rg-arrow" d="M0,0 L10,5 L0,10 z"/></marker>',
        f'<marker id="{prefix}-arrow-route" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="3.5" '
        'markerHeight="3.5" orient="auto-start-reverse"><path class="rg-arrow-route" d="M0,0 L10,5 L0,10 z"/></marker>',
        "</defs>",
        '<g class="rg-edges">',
    ]
    for edge in picture.edges:
        d, _mid = frame.edge(picture.node(edge.source), picture.node(edge.target))
        out.append(f'<path class="rg-edge" d="{d}" marker-end="url(#{prefix}-arrow)"/>')
    out.append('</g><g class="rg-route">')
    badges = []
    for step in picture.route:
        d, (mx, my) = frame.edge(picture.node(step.source), picture.node(step.target))
        out.append(
            f'<path class="rg-route-edge" data-hop="{step.hop}" d="{d}" marker-end="url(#{prefix}-arrow-route)"/>'
        )
        badges.append(
            f'<g class="rg-hop" data-hop="{step.hop}"><circle cx="{mx:.1f}" cy="{my:.1f}" r="10"/>'
            f'<text x="{mx:.1f}" y="{my + 4:.1f}" text-anchor="middle">{step.hop}</text></g>'
        )
    out.append("</g>")
    out.extend(_node(frame, node) for node in picture.nodes)
    out.extend(badges)
    out.append("</svg>")
    return mark_safe("".join(out))


def _scroll_to(picture):
    """Where the page scrolls the picture to first (see static/js/route_picture.js): the cluster's build near
    the left edge, so the route runs into view; without a route, the first stored version in the middle."""
    node = next((n for n in picture.nodes if n.current), None) or next((n for n in picture.nodes if n.target), None)
    if node is not None:
        return f'data-scroll-to="{max(_x(node) - PAD_X - COL_GAP // 2, 0)}"'
    node = next((n for n in picture.nodes if n.stored), None)
    if node is not None:
        return f'data-scroll-center="{_x(node) + NODE_W // 2}"'
    return ""


def legend_items(*, route):
    """(swatch SVG, words) pairs for the legend beside a picture; `route` adds the route's marks."""

    def swatch(inner, width=34):
        return mark_safe(
            f'<svg class="route-graph rg-swatch" width="{width}" height="20" viewBox="0 0 {width} 20" '
            f'aria-hidden="true" focusable="false">{inner}</svg>'
        )

    items = [
        (
            swatch('<g class="rg-node"><rect class="rg-shape" x="1" y="2" width="32" height="16" rx="3"/></g>'),
            _("a version (“any build” when the file names no build)"),
        ),
        (
            swatch(
                f'<g class="rg-node rg-barrier"><polygon class="rg-shape" points="{_octagon(1, 2, 32, 16, 5)}"/></g>'
            ),
            _("barrier: installed from binary (cut corners)"),
        ),
        (
            swatch(
                '<g class="rg-node rg-deprecated"><rect class="rg-shape" x="1" y="2" width="32" height="16" rx="3"/></g>'
            ),
            _("deprecated: greyed, dashed, “deprecated” (a start, never a target)"),
        ),
        (swatch('<path class="rg-edge" d="M2,10 L32,10"/>'), _("an allowed step (can_be_upgraded_to)")),
    ]
    if route:
        items += [
            (
                swatch(
                    '<path class="rg-route-edge" d="M2,10 L32,10"/><g class="rg-hop"><circle cx="17" cy="10" r="8"/>'
                    '<text x="17" y="14" text-anchor="middle">1</text></g>'
                ),
                _("the route, each step numbered with its hop"),
            ),
            (
                swatch(
                    '<g class="rg-node rg-missing"><rect class="rg-shape" x="1" y="4" width="32" height="14" rx="3"/>'
                    '<path class="rg-flag" d="M26,0 L34,14 L18,14 Z"/></g>'
                ),
                _("⚠ missing: a hop whose rpms are not in the store"),
            ),
            (swatch('<text class="rg-tag" x="0" y="14">▶ ◎</text>'), _("▶ the cluster's build, ◎ the target")),
        ]
    else:
        items.append(
            (
                swatch(
                    '<g class="rg-node rg-stored"><rect class="rg-shape" x="1" y="2" width="32" height="16" rx="3"/></g>'
                ),
                _("✓ rpms of this version are in the store"),
            )
        )
    return items
