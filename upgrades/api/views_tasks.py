"""The task routes (spec 3.2): DAGs, nodes, sub-tasks and their logs, and the operators."""

from upgrades.api import dto, selectors
from upgrades.api.base import ObshellView
from upgrades.api.bind import Field, bind
from upgrades.api.body import read_small_body
from upgrades.api.envelope import contents
from upgrades.api.ids import parse_generic_id, task_not_found
from upgrades.api.schemas import BODY_500, documented
from upgrades.audit import REASON_MAX_LENGTH
from upgrades.errors import ObshellError, bad_request

OPERATOR_FIELDS = (
    Field("operator", "Operator", required=True),
    Field("reason", "Reason", max_length=REASON_MAX_LENGTH),
)


def _id_format_checked(generic_id, kind):
    """obshell's ConvertGenericID runs before the body is bound and refuses only a malformed id (400); whether the
    id names anything is answered after the body (ob/agent/executor/task/dag.go DagHandler, node.go NodeHandler)."""
    try:
        parse_generic_id(generic_id, kind=kind)
    except ObshellError as error:
        if error.status != 404:
            raise


def _operator_body(view, struct):
    values = bind(read_small_body(view.django_request, view.caller), struct, OPERATOR_FIELDS)
    return values["operator"], values["reason"] or ""


class DagView(ObshellView):
    @documented(
        summary="A DAG (with nodes, sub-tasks and logs unless show_details=false)",
        data="DagDetailDTO",
        show_details=True,
    )
    def get(self, request, generic_id, **kwargs):
        show = self.show_details()
        dag = selectors.dag_by_generic_id(self.caller, generic_id)
        return self.ok(dto.dag_detail(dag, show_details=show))

    @documented(
        summary="Operate a DAG: RETRY, ROLLBACK, CANCEL or PASS",
        request="DagOperatorParam",
        errors_500=("Gorm.NoRowAffected", "Common.Unexpected", *BODY_500),
    )
    def post(self, request, generic_id, **kwargs):
        from upgrades.services.dag_operators import dag_operate

        # obshell's DagHandler (ob/agent/executor/task/dag.go): the id is parsed, then the body bound, then the DAG
        # looked up.
        _id_format_checked(generic_id, "dag")
        operator, reason = _operator_body(self, "DagOperator")
        dag = selectors.dag_by_generic_id(self.caller, generic_id)
        dag_operate(dag=dag, operator=operator, actor=self.caller.actor, reason=reason)
        return self.ok()


class NodeView(ObshellView):
    @documented(summary="A node with its sub-tasks", data="NodeDetailDTO", show_details=True)
    def get(self, request, generic_id, **kwargs):
        self.show_details()
        node = selectors.node_by_generic_id(self.caller, generic_id)
        return self.ok(dto.node_detail(node))

    @documented(
        summary="Pass a failed node (operator PASS) and let the DAG continue",
        request="NodeOperatorParam",
        errors_500=("Gorm.NoRowAffected", "Common.Unexpected", *BODY_500),
    )
    def post(self, request, generic_id, **kwargs):
        from upgrades.services.dag_operators import node_pass

        # obshell's NodeHandler (ob/agent/executor/task/node.go): id, body, operator, and only then the node.
        _id_format_checked(generic_id, "node")
        operator, reason = _operator_body(self, "NodeOperator")
        if operator.upper() != "PASS":
            raise bad_request("Task.Node.Operator.NotSupport", f"Operator {operator} is not supported")
        node = selectors.node_by_generic_id(self.caller, generic_id)
        node_pass(node=node, actor=self.caller.actor, reason=reason)
        return self.ok()


class SubTaskView(ObshellView):
    @documented(summary="A sub-task", data="TaskDetailDTO")
    def get(self, request, generic_id, **kwargs):
        sub_task = selectors.sub_task_by_generic_id(self.caller, generic_id)
        return self.ok(dto.sub_task_detail(sub_task))


class SubTaskLogsView(ObshellView):
    @documented(summary="Every log line of every attempt of a sub-task", data="TaskLogList")
    def get(self, request, generic_id, **kwargs):
        sub_task = selectors.sub_task_by_generic_id(self.caller, generic_id)
        return self.ok(contents(dto.sub_task_log_entries(sub_task)))


class MaintainObView(ObshellView):
    @documented(summary="The newest maintenance DAG of the cluster", data="DagDetailDTO", show_details=True)
    def get(self, request, **kwargs):
        show = self.show_details()
        dag = selectors.last_maintenance_dag(self.caller)
        if dag is None:
            raise task_not_found("Cluster is not under maintenance")
        return self.ok(dto.dag_detail(dag, show_details=show))


class MaintainAgentView(ObshellView):
    @documented(
        summary="This agent's last local maintenance DAG (this server keeps none)",
        data="DagDetailDTO",
        show_details=True,
    )
    def get(self, request, **kwargs):
        self.show_details()
        raise task_not_found("Agent is not under maintenance")


class UnfinishedView(ObshellView):
    """GET /task/dag/unfinish: a nil slice when nothing is unfinished, as a cluster agent answers (spec 1.1)."""

    nil_when_empty = True

    @documented(summary="Unfinished DAGs", data="DagDetailNilList", show_details=True)
    def get(self, request, **kwargs):
        show = self.show_details()
        dags = list(selectors.unfinished_dags(self.caller))
        if not dags and self.nil_when_empty:
            return self.ok(contents(None))
        return self.ok(contents(dto.dag_details(dags, show_details=show)))


class ObUnfinishedView(UnfinishedView):
    nil_when_empty = False


class AllObDagsView(ObshellView):
    @documented(summary="Every DAG of the cluster", data="DagDetailList", show_details=True)
    def get(self, request, **kwargs):
        show = self.show_details()
        dags = selectors.visible_dags(self.caller).order_by("id")
        return self.ok(contents(dto.dag_details(dags, show_details=show)))


class AgentDagsView(ObshellView):
    """Agent-local DAG lists: this server runs no agent-local tasks, so they are always empty."""

    @documented(summary="Agent-local DAGs (always empty here)", data="DagDetailList", show_details=True)
    def get(self, request, **kwargs):
        self.show_details()
        return self.ok(contents([]))
