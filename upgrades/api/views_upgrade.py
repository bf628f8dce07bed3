"""POST /api/v1/ob/upgrade/check and POST /api/v1/ob/upgrade (spec 3.1, 4)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema

from upgrades.api import dto
from upgrades.api.base import ObshellView
from upgrades.api.bind import Field, bind
from upgrades.api.body import read_small_body
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


class UpgradeCheckView(ObshellView):
    @extend_schema(
        summary="Start an 'Upgrade check OB' DAG", request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT
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
    @extend_schema(
        summary="Start an OB upgrade DAG (ROLLING or STOPSERVICE)",
        request=OpenApiTypes.OBJECT,
        responses=OpenApiTypes.OBJECT,
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
