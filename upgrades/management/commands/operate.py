from django.core.management.base import BaseCommand, CommandError

from upgrades.audit import Actor
from upgrades.errors import ObshellError
from upgrades.management.commands.upgrade import command_actor
from upgrades.models import Dag, Node
from upgrades.services.dag_operators import dag_continue_rollback, dag_operate, node_pass


class Command(BaseCommand):
    help = (
        "Apply an operator to a DAG (by its dag_id), or PASS one failed node with --node NODE_ID. continue-rollback "
        "rolls back again a DAG whose rollback failed (retry would run it forward instead)."
    )

    def add_arguments(self, parser):
        parser.add_argument("dag_id", type=int)
        parser.add_argument(
            "operator", choices=["retry", "rollback", "continue-rollback", "cancel", "pass"], type=str.lower
        )
        parser.add_argument("--node", type=int, dest="node_id", help="node_id of the node to pass (pass only)")
        parser.add_argument("--reason", required=True)

    def handle(self, *args, **opts):
        dag = Dag.objects.select_related("cluster").filter(pk=opts["dag_id"]).first()
        if dag is None:
            raise CommandError(f"no DAG with dag_id {opts['dag_id']}")
        actor = Actor.system(command_actor())
        try:
            if opts["node_id"] is not None:
                if opts["operator"] != "pass":
                    raise CommandError("--node is only for pass")
                node = Node.objects.filter(pk=opts["node_id"], dag=dag).first()
                if node is None:
                    raise CommandError(f"DAG {dag.pk} has no node {opts['node_id']}")
                node = node_pass(node=node, actor=actor, reason=opts["reason"])
                dag.refresh_from_db()
                self.stdout.write(
                    f"node {node.pk} {node.name}: {node.state}/{node.operator}; DAG {dag.state}/{dag.operator}"
                )
                return
            if opts["operator"] == "continue-rollback":
                dag = dag_continue_rollback(dag=dag, actor=actor, reason=opts["reason"])
            else:
                dag = dag_operate(dag=dag, operator=opts["operator"], actor=actor, reason=opts["reason"])
        except ObshellError as exc:
            raise CommandError(f"[{exc.err_code}] {exc.message}") from None
        self.stdout.write(
            f"DAG {dag.pk} (obshell generic id {dag.generic_id}) {dag.name}: {dag.state}/{dag.operator} at stage {dag.stage}"
        )
