"""The upgrade group's helper routes (spec 3.1): parameters backup and restore, the python environment check,
and every agent's status, answered from the token's cluster (a simulated one's state)."""

from upgrades.api import agent
from upgrades.api.base import ObshellView
from upgrades.api.bind import bind_failed, parse_json
from upgrades.api.body import read_small_body
from upgrades.api.envelope import contents
from upgrades.api.schemas import BODY_500, documented
from upgrades.planning.environment import host_environment_error
from upgrades.services.parameters import ROW_KEYS, params_backup, params_restore

_INT_KEYS = ("SvrPort", "TenantId")


class ParamsBackupView(ObshellView):
    @documented(
        summary="The parameters an upgrade saves (GV$OB_PARAMETERS rows), kept as the last backup",
        data="ObParametersList",
    )
    def post(self, request, **kwargs):
        rows = params_backup(cluster=self.require_cluster(), actor=self.caller.actor)
        # A Go slice: a cluster with no servers has a nil one.
        return self.ok(contents(rows or None))


def _row(item, index):
    if not isinstance(item, dict):
        raise bind_failed(
            f"json: cannot unmarshal value into Go struct field RestoreParams.params of type "
            f"oceanbase.ObParameters (item {index})"
        )
    lowered = {str(key).lower(): value for key, value in item.items()}
    row = {}
    for key in ROW_KEYS:
        value = lowered.get(key.lower())
        if key in _INT_KEYS:
            if value is None:
                value = 0
            elif isinstance(value, bool) or not isinstance(value, int):
                raise bind_failed(
                    f"json: cannot unmarshal value into Go struct field ObParameters.params.{key} of type int"
                )
        else:
            if value is None:
                value = ""
            elif not isinstance(value, str):
                raise bind_failed(
                    f"json: cannot unmarshal value into Go struct field ObParameters.params.{key} of type string"
                )
            if "\x00" in value:
                raise bind_failed(f"Key: 'ObParameters.{key}' Error:Field validation for '{key}' failed: NUL character")
        row[key] = value
    return row


def bind_restore_rows(raw):
    """RestoreParams `{"params": [ObParameters...]}`, keys matched case-insensitively; an empty body (or no
    `params`) is None: restore the last backup."""
    if not raw.strip():
        return None
    document = parse_json(raw)
    if not isinstance(document, dict):
        raise bind_failed("json: cannot unmarshal value into Go value of type param.RestoreParams")
    params = {str(key).lower(): value for key, value in document.items()}.get("params")
    if params is None:
        return None
    if not isinstance(params, list):
        raise bind_failed(
            "json: cannot unmarshal value into Go struct field RestoreParams.params of type []oceanbase.ObParameters"
        )
    return [_row(item, index) for index, item in enumerate(params)]


class ParamsRestoreView(ObshellView):
    @documented(
        summary="Set parameters back (the body's rows, or else the last backup)",
        request="RestoreParams",
        errors_500=BODY_500,
    )
    def post(self, request, **kwargs):
        cluster = self.require_cluster()
        rows = bind_restore_rows(read_small_body(self.django_request, self.caller))
        params_restore(cluster=cluster, rows=rows, actor=self.caller.actor)
        return self.ok()


class EnvCheckView(ObshellView):
    @documented(
        summary="Check python and mysql.connector on the cluster agent's host",
        errors_500=(*BODY_500, "Environment.WithoutPython", "Environment.WithoutModule"),
    )
    def post(self, request, **kwargs):
        # CheckPythonEnvironment on the agent that answers: here the cluster agent of the token's cluster.
        cluster = self.require_cluster()
        server = cluster.agent_server()
        if server is not None:
            error = host_environment_error(cluster, server.ip)
            if error is not None:
                raise error
        return self.ok()


class AgentsStatusView(ObshellView):
    @documented(
        summary="Every agent's status, keyed ip:port (agents that do not answer are left out)", data="AgentsStatus"
    )
    def get(self, request, **kwargs):
        return self.ok(agent.agents_status(self.require_cluster()))
