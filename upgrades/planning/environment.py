"""The python environment obshell needs on every host before an upgrade (spec 4 step 5), read from a simulated
cluster's `health`: `python_missing` / `mysql_connector_missing` are `true` (every host) or a list of host IPs.

obshell (ob/agent/executor/ob/upgrade_ob.go, checkPythonEnvOnRealExecuteAgents) checks one "real" agent per
host IP, the first agent of that IP: the cluster agent's own host directly, the others through
`POST /api/v1/upgrade/env/check` on that agent, and wraps each failure with the agent's address. Go walks a map
of hosts, so which failing host it reports first is random; here it is the first in agent order.
"""

from upgrades.errors import ObshellError, server_error

ENV_CHECK_URI = "/api/v1/upgrade/env/check"
MODULE = "mysql.connector"  # obshell's `modules`: the upgrade scripts connect with it


def _listed(value, ip):
    if isinstance(value, list):
        return ip in value
    return bool(value)


def host_environment_error(cluster, ip) -> ObshellError | None:
    """What `python -c ...` and `import mysql.connector` give on one host (CheckPythonEnvironment): None when
    both work, else 500 Environment.WithoutPython / Environment.WithoutModule with obshell's text."""
    health = cluster.health or {}
    if _listed(health.get("python_missing"), ip):
        return server_error("Environment.WithoutPython", "Please check if Python is installed")
    if _listed(health.get("mysql_connector_missing"), ip):
        return server_error("Environment.WithoutModule", f"Please check if Python module '{MODULE}' is installed")
    return None


def real_execute_agents(servers):
    """The first server (agent) of each host IP, in agent order."""
    seen = {}
    for server in servers:
        seen.setdefault(server.ip, server)
    return list(seen.values())


def cluster_environment_error(cluster, servers, local) -> ObshellError | None:
    """The first failing host's error as obshell's cluster agent (`local`) words it, or None."""
    for agent in real_execute_agents(servers):
        error = host_environment_error(cluster, agent.ip)
        if error is None:
            continue
        address = agent.agent_address
        prefix = f"python environment check failed on agent {address}: "
        if local is not None and agent.pk == local.pk:
            return ObshellError(error.err_code, prefix + error.message, status=500)
        # The remote agent's answer comes back as Agent.RPC.RequestError (ob/agent/lib/http/http.go), wrapped
        # twice (checkPythonEnvRemote, then the loop): obshell's Wrapf keeps the inner code.
        return server_error(
            "Agent.RPC.RequestError",
            f"{prefix}failed to check python environment on agent {address}: "
            f"Request [POST]{ENV_CHECK_URI} to {address} error: {error.message}",
        )
    return None
