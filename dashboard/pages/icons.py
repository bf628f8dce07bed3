"""The one table of state icons. Templates read it through the `state_icon` filter and `state_badge` tag
(dashboard/templatetags/pages.py); the run page's scripts get it from `json_script` ("state-icons").
Each state is shown with a colour, an icon and its name, so colour is never the only signal."""

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


def state_icon(state):
    return STATE_ICONS.get(state or "", UNKNOWN_ICON)


def operator_icon(operator):
    return OPERATOR_ICONS.get(operator or "", UNKNOWN_ICON)


def icon_table():
    """What the scripts get: {"states": {...}, "operators": {...}, "unknown": "•"}."""
    return {"states": STATE_ICONS, "operators": OPERATOR_ICONS, "unknown": UNKNOWN_ICON}
