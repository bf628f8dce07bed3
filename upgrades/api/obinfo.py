"""GET /api/v1/ob/info (spec 3.3): the cluster, its servers and their builds as OB itself reports them."""

import hashlib
from datetime import datetime

from upgrades.api.agent import IDENTITY, cluster_ob_version


def full_build_version(build_version):
    """OB's DBA_OB_SERVERS.BUILD_VERSION: `<version>_<build>-<source commit>(<build date>)`.

    The build number ends with the build's date and hour (…2023092807 is 2023-09-28 07h); a simulated server
    has no source tree, so its commit id is a stable digest of the build."""
    version, _, build = build_version.partition("_")
    commit = hashlib.sha1(f"oceanbase {build_version}".encode()).hexdigest()
    stamp = build[-10:]
    try:
        built = datetime.strptime(stamp, "%Y%m%d%H")
    except ValueError:
        return f"{build_version}-{commit}"
    minute, second = int(commit[:4], 16) % 60, int(commit[4:8], 16) % 60
    built = built.replace(minute=minute, second=second)
    return f"{build_version}-{commit}({built:%b %d %Y %H:%M:%S})"


def ob_info(cluster):
    servers = list(cluster.servers.select_related("zone").order_by("zone__position", "id"))
    agent = cluster.agent_server()
    topology = {}
    for server in servers:
        topology.setdefault(server.zone.name, []).append(
            {
                "svr_ip": server.ip,
                "svr_port": server.rpc_port,
                "sql_port": server.sql_port,
                "agent_port": server.agent_port,
                "with_rootserver": server.with_rootserver,
                "status": server.status,
                "build_version": full_build_version(server.build_version),
            }
        )
    return {
        "agent_info": [
            {
                "ip": server.ip,
                "port": server.agent_port,
                "zone": server.zone.name,
                "identity": IDENTITY if agent and server.pk == agent.pk else "FOLLOWER",
                "version": server.agent_version,
            }
            for server in servers
        ],
        "obcluster_info": {
            "id": cluster.pk,
            "name": cluster.name,
            "version": cluster_ob_version(cluster),
            "topology": topology,
            "is_shared_storage": cluster.shared_storage,
        },
    }
