"""The parameters an upgrade saves and restores (obshell's needBackupParamName, ob/agent/executor/ob/
upgrade_param_backup.go), as a simulated cluster holds them: each server's cluster-scope values of
GV$OB_PARAMETERS, defaults unless an `ALTER SYSTEM SET ... SERVER = ...` changed them (Server.parameters).

* `params_backup` reads them (one row per server and parameter, obshell's ObParameters shape: Go field names,
  the columns obshell does not select empty) and keeps the rows on the cluster (`parameters_backup`).
* `params_restore` applies rows as RestoreParamsForUpgrade does (ob/agent/service/obcluster/obcluster.go), in
  one transaction: CLUSTER scope sets the value on the server `SvrIp:SvrPort`, TENANT scope needs a tenant
  (the simulated cluster has none: the SQL obshell would build is a syntax error, 400 MySQL.Error), any other
  scope is 400 OB.Parameter.Scope.Invalid. Without rows it applies the kept backup. obshell's handler never
  binds its body (the rows are always empty, so it restores nothing); here the documented body is read, and
  an empty one restores the last backup, so the pair does what its names say.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction

from upgrades.audit import Actor, audit, audit_refusals
from upgrades.backends.simulated.parameters import ROW_KEYS, UPGRADE_PARAMETERS, parameter_rows
from upgrades.errors import bad_request, server_error
from upgrades.models import AuditEntry, Cluster, Server
from upgrades.models.cluster import Backend

__all__ = ["ROW_KEYS", "params_backup", "params_restore"]

if TYPE_CHECKING:
    from collections.abc import Iterable

_BOOLEAN = ("enable_rebalance", "enable_rereplication")
_BOOLEAN_VALUES = {"true", "false", "1", "0", "on", "off", "yes", "no"}


def _mysql_error(text: str) -> Exception:
    return bad_request("MySQL.Error", text)


def params_backup(*, cluster: Cluster, actor: Actor | None = None) -> list[dict[str, Any]]:
    """The current rows, kept on the cluster as its last backup (audited)."""
    actor = actor or Actor.system()
    with transaction.atomic():
        locked = Cluster.objects.select_for_update().get(pk=cluster.pk)
        _require_simulated(locked)
        rows = parameter_rows(locked.pk)
        locked.parameters_backup = rows
        locked.save(update_fields=["parameters_backup"])
        audit(
            actor=actor,
            action=AuditEntry.Action.PARAMS_BACKUP,
            cluster=locked,
            detail={"parameters": len(rows)},
        )
    return rows


def _require_simulated(cluster: Cluster) -> None:
    # A real cluster's parameters live on its agent, which the obshell backend does not reach yet.
    if cluster.backend != Backend.SIMULATED:
        raise server_error(
            "Common.Unexpected", f"Unexpected error: no execution backend is available for {cluster.backend!r} clusters"
        )


def _set_on_server(servers: dict[str, Server], row: dict[str, Any]) -> None:
    name, value = row["Name"], row["Value"]
    address = f"{row['SvrIp']}:{row['SvrPort']}"
    server = servers.get(address)
    if server is None:
        raise _mysql_error("Error 4018 (HY000): Entry not exist")
    if name not in UPGRADE_PARAMETERS:
        raise _mysql_error("Error 4028 (HY000): Invalid argument")
    if name in _BOOLEAN and value.lower() not in _BOOLEAN_VALUES:
        raise _mysql_error("Error 4028 (HY000): Invalid argument")
    server.parameters = {**(server.parameters or {}), name: value}


def params_restore(
    *, cluster: Cluster, rows: Iterable[dict[str, Any]] | None = None, actor: Actor | None = None
) -> int:
    """Apply `rows` (None or empty: the cluster's last backup) in one transaction; returns how many were set.
    Refusals are audited and change nothing."""
    actor = actor or Actor.system()
    with (
        audit_refusals(
            actor=actor,
            action=AuditEntry.Action.PARAMS_RESTORE,
            cluster=cluster,
            reason=lambda error: error.message,
            detail=lambda error: {"errCode": error.err_code},
        ),
        transaction.atomic(),
    ):
        locked = Cluster.objects.select_for_update().get(pk=cluster.pk)
        rows = list(rows or locked.parameters_backup or [])
        servers = {f"{s.ip}:{s.rpc_port}": s for s in locked.servers.all()}
        for row in rows:
            scope = row["Scope"]
            if scope == "TENANT":
                # No tenant has that id, so obshell's `... TENANT = <empty name>` is a syntax error.
                raise _mysql_error(
                    "Error 1064 (42000): You have an error in your SQL syntax; check the manual that "
                    "corresponds to your OceanBase version for the right syntax to use near '' at line 1"
                )
            if scope != "CLUSTER":
                raise bad_request("OB.Parameter.Scope.Invalid", f"Parameter scope '{scope}' is invalid")
            _set_on_server(servers, row)
        changed = {s.pk: s for s in servers.values()}.values()
        Server.objects.bulk_update(list(changed), ["parameters"])
        audit(
            actor=actor,
            action=AuditEntry.Action.PARAMS_RESTORE,
            cluster=locked,
            detail={"parameters": [f"{r['SvrIp']}:{r['SvrPort']} {r['Name']}={r['Value']}" for r in rows][:50]},
        )
    return len(rows)
