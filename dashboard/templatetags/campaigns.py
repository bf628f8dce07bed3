"""Campaign state icons for the templates (an icon, a word and a colour per state: never the colour alone)."""

from django import template

from dashboard.pages.campaign_selectors import CAMPAIGN_ICONS, MEMBER_ICONS

register = template.Library()


@register.filter
def campaign_icon(state):
    return CAMPAIGN_ICONS.get(state, "•")


@register.filter
def member_icon(state):
    return MEMBER_ICONS.get(state, "•")
