"""Spec 5's node names, written out independently of the planner so the tests compare against the spec."""

PREFIX_A = [
    "Check the python environment",
    "Create upgrade dir",
    "Download all required packages",
    "Check all required packages",
    "Unpack all required packages",
    "Backup for upgrade",
    "Install new obshell",
    "Restart obshell",
    "Upgrade post table maintain",
]
PREFIX_B = PREFIX_A[:5]
SUFFIX = ["Remove upgrade check task dir"]


def rolling_hop(zones, freeze=False):
    names = ["Backup parameters", "Execute upgrade checker script", "Execute upgrade pre script"]
    for zone in zones:
        names += ["Execute upgrade health checker script", f"Stop {zone}"]
        if freeze:
            names.append("Minor freeze before stop server")
        names += ["Reinstall and restart observer", "Execute upgrade zone health checker script", f"Start {zone}"]
    return names + ["Execute upgrade post script", "Restore parameters"]


def stop_service_hop(freeze=False):
    names = ["Backup parameters", "Execute upgrade checker script"]
    if freeze:
        names.append("Minor freeze before stop server")
    return names + [
        "Execute upgrade pre script",
        "Execute upgrade health checker script",
        "Reinstall and restart observer",
        "Execute upgrade health checker script",
        "Execute upgrade post script",
        "Restore parameters",
    ]


def upgrade_names(*, edition, mode, zones=("zone1", "zone2", "zone3"), hops=1, freeze=False):
    prefix = PREFIX_B if edition == "business" else PREFIX_A
    hop = rolling_hop(zones, freeze) if mode == "ROLLING" else stop_service_hop(freeze)
    return prefix + hop * hops + SUFFIX
