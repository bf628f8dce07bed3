from django.core.management.base import BaseCommand, CommandError

from upgrades.audit import Actor
from upgrades.backends.faults import fault_inject
from upgrades.errors import ObshellError
from upgrades.management.commands.upgrade import command_actor
from upgrades.models import Cluster, Fault


class Command(BaseCommand):
    help = (
        "Inject a fault into a simulated cluster: it fires on the next DAG that reaches the node, on one "
        "server's sub-task (--server) or on every sub-task of the node."
    )

    def add_arguments(self, parser):
        parser.add_argument("cluster")
        parser.add_argument("--node", required=True, help='node name, e.g. "Stop zone2"')
        parser.add_argument("--server", help="IP:PORT of the agent whose sub-task fails")
        parser.add_argument("--times", type=int, default=1, help="node attempts it spoils (default 1)")
        parser.add_argument("--kind", choices=Fault.Kind.values, default=Fault.Kind.FAIL)

    def handle(self, *args, **opts):
        cluster = Cluster.objects.filter(name=opts["cluster"]).first()
        if cluster is None:
            raise CommandError(f"no cluster named {opts['cluster']!r}")
        try:
            fault = fault_inject(
                cluster=cluster,
                node_name=opts["node"],
                server=opts["server"],
                kind=opts["kind"],
                times=opts["times"],
                actor=Actor.system(command_actor()),
            )
        except ObshellError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"fault {fault.pk} on {cluster.name}: {fault}")
