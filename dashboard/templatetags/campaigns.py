"""Campaign state icons for the templates (an icon, a word and a colour per state: never the colour alone)."""

from html import escape

from django import template
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.text import Truncator

from dashboard.pages.campaign_selectors import CAMPAIGN_ICONS, MEMBER_ICONS

register = template.Library()


@register.filter
def campaign_icon(state):
    return CAMPAIGN_ICONS.get(state, "•")


@register.filter
def member_icon(state):
    return MEMBER_ICONS.get(state, "•")


@register.simple_tag
def campaign_cells(members):
    """A wave's cells: hundreds on a large campaign's page, written in one join rather than a template loop (the
    markup the loop wrote, which the grid's script and the tests read)."""
    cells = []
    for member in members:
        name, state, reason = escape(member.cluster.name), escape(member.state), member.reason
        head = f'<span aria-hidden="true">{escape(member.icon)}</span> <span class="cell-name">{name}</span>'
        if member.dag_id:
            head = f'<a href="{escape(reverse("run", args=[member.dag_id]))}">{head}</a>'
        title = f' title="{escape(reason)}"' if reason else ""
        note = f'<span class="cell-reason">{escape(Truncator(reason).chars(60))}</span>' if reason else ""
        cells.append(
            f'\n          <li class="cell cell-{state}" data-cluster="{name}" data-state="{state}"{title}>\n'
            f'            <span class="cell-head">{head}</span>\n'
            f'            <span class="cell-state">{escape(member.get_state_display())}</span>{note}\n'
            "          </li>"
        )
    return mark_safe("".join(cells))  # every value escaped above


@register.simple_tag
def skip_options(members):
    """The skip box's options (one per cluster still to run): one join, as campaign_cells."""
    return mark_safe(  # every value escaped
        "".join(
            f'<option value="{escape(m.cluster.name)}">{escape(m.cluster.name)} ({escape(m.get_state_display())})</option>'
            for m in members
        )
    )
