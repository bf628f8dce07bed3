"""Template helpers shared by every page (the run page included): state badges, top-bar counters, roles."""

import html

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, pgettext_lazy

from dashboard.pages import icons
from dashboard.pages.forms import FLEET_STATE_LABELS
from dashboard.pages.selectors import run_counters
from upgrades.roles import has_role_name, user_role

register = template.Library()


@register.simple_tag
def state_badge(state, label=None):
    state = state or ""
    return format_html(
        '<span class="badge badge-{}"><span aria-hidden="true">{}</span> {}</span>',
        state.lower(),
        icons.state_icon(state),
        label or icons.state_label(state),
    )


_FLEET_BADGES: dict[tuple[str, str], str] = {}


@register.simple_tag
def fleet_state_badge(state):
    """A cluster's fleet state: colour, icon and its words (the filter's labels); six states, built once per
    language (a fleet page shows fifty)."""
    key = (state, get_language() or "")
    if key not in _FLEET_BADGES:
        icon, colour = icons.FLEET_STATE_BADGES.get(state, (icons.UNKNOWN_ICON, "pending"))
        _FLEET_BADGES[key] = format_html(
            '<span class="badge badge-{}" data-fleet-badge="{}"><span aria-hidden="true">{}</span> {}</span>',
            colour,
            state,
            icon,
            FLEET_STATE_LABELS.get(state, state),
        )
    return _FLEET_BADGES[key]


@register.simple_tag
def cluster_names_datalist():
    """<datalist id="cluster-names"> of every cluster's name, for the filters' cluster box (one query, one join)."""
    from upgrades.models import Cluster

    names = Cluster.objects.order_by("name").values_list("name", flat=True)
    # html.escape: Django's escape() is the same call behind a lazy-text check, paid 1,000 times here.
    options = "".join(f'<option value="{html.escape(name)}">' for name in names)
    return mark_safe(f'<datalist id="cluster-names">{options}</datalist>')  # every name escaped above


@register.filter
def state_icon(state):
    """The icon of a state (or audit outcome), from the one table in dashboard/pages/icons.py."""
    return icons.state_icon(state)


@register.filter
def operator_icon(operator):
    return icons.operator_icon(operator)


@register.inclusion_tag("pages/_counters.html")
def topbar_counters():
    return run_counters()


def _page_role(user):
    """The user's role, read once per page: templates ask it many times (the top bar, each action), and the user
    object is the request's own, so the answer cannot outlive the request."""
    if not hasattr(user, "_page_role"):
        user._page_role = user_role(user)
    return user._page_role


@register.filter
def role_of(user):
    return _page_role(user) or "no role"


ROLE_LABELS = {
    "viewer": pgettext_lazy("role", "viewer"),
    "operator": pgettext_lazy("role", "operator"),
    "admin": pgettext_lazy("role", "admin"),
    "no role": pgettext_lazy("role", "no role"),
}


@register.filter
def role_label(role):
    """A role's name in the page's language (role_of gives the English name, which classes and tests use)."""
    return ROLE_LABELS.get(role, role)


@register.filter
def state_label(state):
    return icons.state_label(state)


@register.filter
def can(user, role):
    current = _page_role(user)
    return current is not None and has_role_name(current, role)


@register.filter
def duration(seconds):
    """A run's duration, as a DBA reads it: 42s, 3m 05s, 1h 02m."""
    if seconds is None:
        return "—"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


@register.filter
def short_hash(value, length=12):
    return (value or "")[: int(length)]


@register.filter
def filesize(size):
    size = float(size or 0)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


NAV_SECTIONS = {
    "clusters": ("/", "/clusters/"),
    "runs": ("/runs/",),
    "campaigns": ("/campaigns/",),
    "packages": ("/packages/",),
    "audit": ("/audit/",),
    "workers": ("/workers/",),
    "notifications": ("/notifications/",),
}


@register.simple_tag(takes_context=True)
def nav_current(context, section):
    """aria-current="page" for the nav link of the section the current page belongs to."""
    request = context.get("request")
    path = request.path if request else ""
    prefixes = NAV_SECTIONS[section]
    current = (
        path == "/" if section == "clusters" and path == "/" else any(p != "/" and path.startswith(p) for p in prefixes)
    )
    return mark_safe(' aria-current="page"') if current else ""
