"""POST /api/v1/ob/upgrade/check and POST /api/v1/ob/upgrade (spec 3.1, 4)."""

from upgrades.api import dto
from upgrades.api.base import ObshellView
from upgrades.api.bind import Field, bind
from upgrades.api.body import read_small_body
from upgrades.api.schemas import BODY_500, documented
from upgrades.audit import REASON_MAX_LENGTH

CHECK_FIELDS = (
    Field("version", "Version", required=True),
    Field("release", "Release", required=True),
    Field("upgradeDir", "UpgradeDir"),
)
UPGRADE_FIELDS = (
    *CHECK_FIELDS,
    Field("mode", "Mode", required=True),
    Field("freeze_server", "FreezeServer", type=bool),
    Field("reason", "Reason", max_length=REASON_MAX_LENGTH),
)
# obshell's known 500s for a refused start (spec 1.3, 4): conflicts, unavailable agents or servers, missing
# python, a missing package record or dep file (plain errors: Common.Unexpected).
UPGRADE_500 = (
    "OB.Cluster.UnderMaintenanceWithDag",
    "OB.Cluster.UnderMaintenance",
    "Agent.Unavailable",
    "OB.Server.Unavailable",
    "Environment.WithoutPython",
    "Environment.WithoutModule",
    "OB.Upgrade.DepYamlMissing",
    "Common.Unexpected",
)


class UpgradeCheckView(ObshellView):
    @documented(
        summary="Start an 'Upgrade check OB' DAG",
        request="UpgradeCheckParam",
        data="DagDetailDTO",
        errors_500=(*BODY_500, *UPGRADE_500),
    )
    def post(self, request, **kwargs):
        from upgrades.services.dag_start import upgrade_check_start

        values = bind(read_small_body(self.django_request, self.caller), "UpgradeCheckParam", CHECK_FIELDS)
        dag = upgrade_check_start(
            cluster=self.require_cluster(),
            version=values["version"],
            release=values["release"],
            upgrade_dir=values["upgradeDir"] or "",
            actor=self.caller.actor,
        )
        return self.ok(dto.dag_created(dag))


class UpgradeView(ObshellView):
    @documented(
        summary="Start an OB upgrade DAG (ROLLING or STOPSERVICE)",
        request="ObUpgradeParam",
        data="DagDetailDTO",
        errors_500=(*BODY_500, *UPGRADE_500),
    )
    def post(self, request, **kwargs):
        from upgrades.services.dag_start import upgrade_start

        values = bind(read_small_body(self.django_request, self.caller), "ObUpgradeParam", UPGRADE_FIELDS)
        dag = upgrade_start(
            cluster=self.require_cluster(),
            version=values["version"],
            release=values["release"],
            mode=values["mode"],
            upgrade_dir=values["upgradeDir"] or "",
            freeze_server=bool(values["freeze_server"]),
            actor=self.caller.actor,
            reason=values["reason"] or "",
        )
        return self.ok(dto.dag_created(dag))


# --- obshell's own upgrade (spec 3.1, 5.7) ---------------------------------------------------------------------
# Both bind obshell's UpgradeCheckParam (ob/agent/api/obcluster_handler.go agentUpgradeHandler and
# agentUpgradeCheckHandler); the upgrade also takes our `reason`, as POST /api/v1/ob/upgrade does.
AGENT_UPGRADE_FIELDS = (*CHECK_FIELDS, Field("reason", "Reason", max_length=REASON_MAX_LENGTH))
# The agent pre-checks' 500s (ob/agent/executor/ob/upgrade_agent_check.go): an unavailable agent, and for the
# upgrade the maintenance lock an OB upgrade may hold.
AGENT_CHECK_500 = ("Agent.Unavailable", "Common.Unexpected")
AGENT_UPGRADE_500 = (*AGENT_CHECK_500, "OB.Cluster.UnderMaintenanceWithDag", "OB.Cluster.UnderMaintenance")


class AgentUpgradeCheckView(ObshellView):
    @documented(
        summary="Start an 'Upgrade check obshell' DAG (5 nodes, no lock)",
        request="UpgradeCheckParam",
        data="DagDetailDTO",
        errors_500=(*BODY_500, *AGENT_CHECK_500),
    )
    def post(self, request, **kwargs):
        from upgrades.services.dag_start import agent_upgrade_check_start

        values = bind(read_small_body(self.django_request, self.caller), "UpgradeCheckParam", CHECK_FIELDS)
        dag = agent_upgrade_check_start(
            cluster=self.require_cluster(),
            version=values["version"],
            release=values["release"],
            upgrade_dir=values["upgradeDir"] or "",
            actor=self.caller.actor,
        )
        return self.ok(dto.dag_created(dag))


class AgentUpgradeView(ObshellView):
    @documented(
        summary="Start an 'Upgrade obshell' DAG (9 nodes, the cluster's maintenance lock)",
        request="AgentUpgradeParam",
        data="DagDetailDTO",
        errors_500=(*BODY_500, *AGENT_UPGRADE_500),
    )
    def post(self, request, **kwargs):
        from upgrades.services.dag_start import agent_upgrade_start

        values = bind(read_small_body(self.django_request, self.caller), "UpgradeCheckParam", AGENT_UPGRADE_FIELDS)
        dag = agent_upgrade_start(
            cluster=self.require_cluster(),
            version=values["version"],
            release=values["release"],
            upgrade_dir=values["upgradeDir"] or "",
            actor=self.caller.actor,
            reason=values["reason"] or "",
        )
        return self.ok(dto.dag_created(dag))
