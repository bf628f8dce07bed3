"""What this server says about itself as an obshell agent (spec 2.4, 3.3)."""

import platform
import time

from django.conf import settings

from upgrades.models import Dag
from upgrades.planning.versions import version_sort_key

IDENTITY = "CLUSTER AGENT"
AGENT_VERSION = "4.5.0.0"
# <build number>: release sequence + build date, as obshell's own releases are numbered.
AGENT_RELEASE = "100000012026111818"
VERSION = f"{AGENT_VERSION}-{AGENT_RELEASE}"
STATE_RUNNING = 2
OB_STATE_AVAILABLE = 3
OB_STATE_NOT_RUNNING = 0
OB_STATE_CONNECTED = 1
STARTED_AT_NS = time.time_ns()


def supported_auth():
    return ["v2", "v1"] if settings.OCS_AUTH_V1 else ["v2"]


def client_address(request):
    """The ip and port the client used to reach us (from the Host header)."""
    host = request.get_host()
    if host.startswith("["):
        ip, _, rest = host[1:].partition("]")
        port = rest.lstrip(":")
    elif host.count(":") == 1:
        ip, port = host.split(":")
    else:
        ip, port = host, ""
    if not port:
        port = request.META.get("SERVER_PORT") or ("443" if request.is_secure() else "80")
    try:
        return ip, int(port)
    except ValueError:
        return ip, 0


def cluster_ob_version(cluster):
    """The cluster's OB version: the lowest server version while a rolling upgrade is part way."""
    versions = sorted({server.version for server in cluster.servers.all()}, key=version_sort_key)
    return versions[0] if versions else ""


def cluster_agent_version(server):
    """(version, startAt) of a cluster's agent: what it records, or this server's own when it records none."""
    if server is None:
        return VERSION, STARTED_AT_NS
    started = server.agent_started_at
    return server.agent_version or VERSION, int(started.timestamp() * 1e9) if started else STARTED_AT_NS


def info(request, cluster=None):
    """Without a cluster (the root /api/v1/info, which carries no token) this describes this server itself: its
    own version and start. With one (/clusters/<name>/api/v1/info, for a signed-in viewer) it describes that
    cluster's agent: the version obshell would report and when that agent last started."""
    ip, port = client_address(request)
    zone = ""
    ob_version = ""
    version, started_at = VERSION, STARTED_AT_NS
    if cluster is not None:
        server = cluster.agent_server()
        zone = server.zone.name if server else ""
        ob_version = cluster_ob_version(cluster)
        version, started_at = cluster_agent_version(server)
    return {
        # No server details (the SDK ignores both): no pid, no path of this installation.
        "pid": 0,
        "state": STATE_RUNNING,
        "startAt": started_at,
        "homePath": "",
        "obVersion": ob_version,
        "architecture": platform.machine() or "x86_64",
        "ip": ip,
        "port": port,
        "zone": zone,
        "identity": IDENTITY,
        "version": version,
        "isObproxyAgent": False,
        "security": False,
        "supportedAuth": supported_auth(),
    }


def status(request, cluster=None):
    ip, port = client_address(request)
    locked = Dag.objects.filter(holds_lock=True)
    version, started_at = VERSION, STARTED_AT_NS
    if cluster is not None:
        version, started_at = cluster_agent_version(cluster.agent_server())
        locked = locked.filter(cluster=cluster)
        ob_state = OB_STATE_AVAILABLE if not cluster.servers.exclude(status="ACTIVE").exists() else OB_STATE_CONNECTED
    else:
        ob_state = OB_STATE_AVAILABLE
    return {
        "agent": {"ip": ip, "port": port, "identity": IDENTITY},
        "state": STATE_RUNNING,
        "version": version,
        "pid": 0,
        "startAt": started_at,
        "port": port,
        "obState": ob_state,
        "underMaintenance": locked.exists(),
    }


def agents_status(cluster):
    """GET /api/v1/agents/status (GetAllAgentStatus, ob/agent/api/info_handler.go): "ip:port" -> the status
    each agent of the cluster answers. An agent that does not answer (its server not ACTIVE, as the upgrade
    pre-check reads it: Agent.Unavailable) is left out, as obshell only logs the failed request; obState is
    3 (available) while the observer runs, else 0. Every agent of an initialised cluster is a CLUSTER AGENT."""
    under_maintenance = Dag.objects.filter(cluster=cluster, holds_lock=True).exists()
    answers = {}
    for server in cluster.servers.all():
        if server.status != server.Status.ACTIVE:
            continue
        answers[server.agent_address] = {
            "agent": {"ip": server.ip, "port": server.agent_port, "identity": IDENTITY},
            "state": STATE_RUNNING,
            "version": server.agent_version or VERSION,
            "pid": 0,
            "startAt": STARTED_AT_NS,
            "port": server.agent_port,
            "obState": OB_STATE_AVAILABLE if server.process_running else OB_STATE_NOT_RUNNING,
            "sqlPort": server.sql_port,
            "underMaintenance": under_maintenance,
        }
    return answers
