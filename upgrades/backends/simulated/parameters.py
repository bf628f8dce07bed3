"""A simulated cluster's upgrade parameters (GV$OB_PARAMETERS of obshell's needBackupParamName,
ob/agent/executor/ob/upgrade_param_backup.go): each server's cluster-scope values, OceanBase's defaults unless an
`ALTER SYSTEM SET ... SERVER = ...` changed them (Server.parameters). The API's params backup/restore
(upgrades/services/parameters.py) and the DAG's Backup/Restore parameters steps read and write the same values."""

from upgrades.models import Server

# The names obshell backs up, in its order, with OceanBase's defaults.
UPGRADE_PARAMETERS = {
    "server_permanent_offline_time": "3600s",
    "enable_rebalance": "True",
    "enable_rereplication": "True",
}
# What the simulated upgrade_pre.py sets while the observers restart (no rebalancing, no re-replication, no
# server declared permanently offline); Restore parameters puts the backed-up values back.
DURING_UPGRADE = {
    "server_permanent_offline_time": "72h",
    "enable_rebalance": "False",
    "enable_rereplication": "False",
}
# What an upgrade leaves behind and the verification reads (upgrades/operations/verification.py): cluster-scope values
# per server. `ALTER SYSTEM BEGIN UPGRADE` (upgrade_pre.py) turns upgrade mode on and `END UPGRADE` (upgrade_post.py)
# off; min_observer_version rises to the new version once every server runs it. A tenant's `compatible` is on Tenant.
MIN_OBSERVER_VERSION = "min_observer_version"
UPGRADE_MODE = "enable_upgrade_mode"
UPGRADE_MODE_DEFAULT = "False"
# oceanbase.ObParameters has no JSON tags: Go field names. obshell selects SVR_IP, SVR_PORT, ZONE, SCOPE,
# TENANT_ID, NAME, VALUE; the other fields stay empty.
ROW_KEYS = (
    "SvrIp",
    "SvrPort",
    "Zone",
    "Scope",
    "Name",
    "Value",
    "TenantId",
    "EditLevel",
    "DefaultValue",
    "Section",
    "Info",
    "DataType",
)


def parameter_rows(cluster_id):
    """One row per server and parameter, server by server (a cluster-scope row has TENANT_ID NULL: Go's 0)."""
    rows = []
    servers = Server.objects.filter(cluster_id=cluster_id).select_related("zone").order_by("zone__position", "id")
    for server in servers:
        for name, default in UPGRADE_PARAMETERS.items():
            row = dict.fromkeys(ROW_KEYS, "")
            row.update(
                SvrIp=server.ip,
                SvrPort=server.rpc_port,
                Zone=server.zone.name,
                Scope="CLUSTER",
                Name=name,
                Value=str((server.parameters or {}).get(name, default)),
                TenantId=0,
            )
            rows.append(row)
    return rows


def set_on_all_servers(cluster_id, values):
    for server in Server.objects.filter(cluster_id=cluster_id):
        server.parameters = {**(server.parameters or {}), **values}
        server.save(update_fields=["parameters"])


def set_rows(cluster_id, rows):
    """Apply CLUSTER-scope rows to the servers they name (rows already checked)."""
    servers = {f"{s.ip}:{s.rpc_port}": s for s in Server.objects.filter(cluster_id=cluster_id)}
    for row in rows:
        server = servers.get(f"{row['SvrIp']}:{row['SvrPort']}")
        if server is not None:
            server.parameters = {**(server.parameters or {}), row["Name"]: row["Value"]}
    Server.objects.bulk_update(list(servers.values()), ["parameters"])
