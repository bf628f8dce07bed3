import json

from django.core.management.base import CommandError

from upgrades.management.base import VersionOptionCommand
from upgrades.models import Cluster
from upgrades.planning.plan import plan_upgrade

MARKS = {True: "✓", False: "✗", None: "–"}


class Command(VersionOptionCommand):
    help = "Show the upgrade plan for a cluster (route, pre-checks, DAG nodes) without creating anything."

    def add_arguments(self, parser):
        parser.add_argument("cluster", help="cluster name")
        parser.add_argument("--version", required=True, help="target version, e.g. 4.3.0.1")
        parser.add_argument("--release", required=True, help="full rpm Release, e.g. 100000242024032211.el7")
        parser.add_argument("--mode", required=True, help="ROLLING or STOPSERVICE (any case)")
        parser.add_argument(
            "--upgrade-dir", default="", help="upgrade dir on the hosts (default <obshell home>/upgrade)"
        )
        parser.add_argument("--freeze-server", action="store_true", help="minor freeze before stopping servers")
        parser.add_argument("--json", action="store_true", help="print the plan as one JSON object")

    def handle(self, *args, **opts):
        cluster = Cluster.objects.filter(name=opts["cluster"]).first()
        if cluster is None:
            raise CommandError(f"cluster '{opts['cluster']}' does not exist")
        plan = plan_upgrade(
            cluster=cluster,
            version=opts["version"],
            release=opts["release"],
            mode=opts["mode"],
            upgrade_dir=opts["upgrade_dir"],
            freeze_server=opts["freeze_server"],
        )
        if opts["json"]:
            self.stdout.write(json.dumps(plan.as_dict(), ensure_ascii=False))
        else:
            self.stdout.write("\n".join(readable(plan)))
        error = plan.error
        if error is not None:
            raise CommandError(f"{error.err_code}: {error.message}", returncode=1)


def readable(plan):
    cluster = plan.cluster
    lines = [
        f"Cluster {cluster.name} ({cluster.edition}): {plan.dag_name or 'no DAG (the mode is not valid)'}",
        f"From {plan.from_version or '?'} to {plan.to_version or '?'}",
    ]
    if plan.route:
        lines.append(f"Route ({len(plan.route)} hop{'s' if len(plan.route) != 1 else ''}):")
        lines.append(f"     {plan.from_version} (current)")
        for hop, node in enumerate(plan.route):
            barrier = "  [barrier: installed from binary]" if node["require_from_binary"] else ""
            missing = (plan.missing_by_hop or [])[hop : hop + 1]
            missing = f"  [not in the store: {' '.join(missing[0])}]" if missing and missing[0] else ""
            lines.append(f"  {hop}. {node['build_version']}{barrier}{missing}")
    else:
        lines.append("Route: unknown (see the checks)")
    lines.append("Pre-checks:")
    for check in plan.checks:
        detail = f"  {check.message}" if check.message and check.ok is not False else ""
        lines.append(f"  {MARKS[check.ok]} {check.title}{detail}")
        if check.ok is False:
            lines.append(f"      [{check.err_code}] (HTTP {check.status}) {check.message}")
            lines.append(f"      hint: {check.hint}")
    if plan.packages:
        lines.append("Packages:")
        lines += [f"  {p['rpm_name']}" for p in plan.packages]
    if plan.nodes:
        lines.append(f"Nodes ({plan.max_stage} stages):")
        width = len(str(plan.max_stage))
        for seq, node in enumerate(plan.nodes, start=1):
            fan_out = f"P x{len(node.agents)}" if node.parallel else "S"
            hop = f"  hop {node.hop}" if node.hop is not None else ""
            lines.append(f"  {seq:>{width}}. {node.name}  [{fan_out}]{hop}")
    else:
        lines.append("Nodes: none (the route or the mode did not pass)")
    lines.append("OK: the upgrade can start." if plan.ok else "NOT OK: fix the failed checks above.")
    return lines
