"""The one table of state icons. Templates read it through the `state_icon` filter and `state_badge` tag
(dashboard/templatetags/pages.py); the run page's scripts get it from `json_script` ("state-icons").
Each state is shown with a colour, an icon and its name, so colour is never the only signal."""

from django.utils.translation import pgettext_lazy

# DAG, node and sub-task states, server and zone status, audit outcomes.
STATE_ICONS = {
    "PENDING": "○",
    "READY": "◔",
    "RUNNING": "▶",
    "SUCCEED": "✓",
    "FAILED": "✕",
    "ACTIVE": "●",
    "INACTIVE": "■",
    "ok": "✓",
    "refused": "⊘",
    "failed": "✕",
}

# Operators, and the states they lead to (a passed stage, a rolled-back or cancelled run).
OPERATOR_ICONS = {
    "RETRY": "↻",
    "ROLLBACK": "↺",
    "CANCEL": "⊘",
    "PASS": "⤼",
}

# A cluster's fleet state (dashboard/pages/fleet_selectors.py): (icon, badge colour class).
FLEET_STATE_BADGES = {
    "running": ("▶", "running"),
    "held": ("✋", "failed"),
    "failed": ("✕", "failed"),
    "unreachable": ("■", "inactive"),
    "upgradable": ("⬆", "maintenance"),
    "up_to_date": ("✓", "succeed"),
}

UNKNOWN_ICON = "•"

# The words beside the icons, in the page's language (the English is the state's own name, as obshell writes it).
STATE_LABELS = {
    "PENDING": pgettext_lazy("state", "PENDING"),
    "READY": pgettext_lazy("state", "READY"),
    "RUNNING": pgettext_lazy("state", "RUNNING"),
    "SUCCEED": pgettext_lazy("state", "SUCCEED"),
    "FAILED": pgettext_lazy("state", "FAILED"),
    "ACTIVE": pgettext_lazy("state", "ACTIVE"),
    "INACTIVE": pgettext_lazy("state", "INACTIVE"),
    "ok": pgettext_lazy("state", "ok"),
    "refused": pgettext_lazy("state", "refused"),
    "failed": pgettext_lazy("state", "failed"),
    "QUEUED": pgettext_lazy("state", "QUEUED"),
    "SENDING": pgettext_lazy("state", "SENDING"),
    "DONE": pgettext_lazy("state", "DONE"),
    # A package push to a real cluster's agent (PackageSync.State), shown in lower case.
    "queued": pgettext_lazy("state", "queued"),
    "sending": pgettext_lazy("state", "sending"),
    "done": pgettext_lazy("state", "done"),
}


def state_label(state):
    return STATE_LABELS.get(state or "", state or "")


def state_icon(state):
    return STATE_ICONS.get(state or "", UNKNOWN_ICON)


def operator_icon(operator):
    return OPERATOR_ICONS.get(operator or "", UNKNOWN_ICON)


def icon_table():
    """What the scripts get: {"states": {...}, "operators": {...}, "unknown": "•"}."""
    return {"states": STATE_ICONS, "operators": OPERATOR_ICONS, "unknown": UNKNOWN_ICON}
