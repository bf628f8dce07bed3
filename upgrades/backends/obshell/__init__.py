"""The obshell backend: a real cluster driven through its obshell agents (`client.py`, `topology.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from upgrades.backends.obshell.client import AgentClient
from upgrades.security.keys import field_decrypt

if TYPE_CHECKING:
    from upgrades.models import Cluster


def agent_addresses(cluster: Cluster) -> list[str]:
    return list(cluster.agent_addresses) or [f"{cluster.agent_host}:{cluster.agent_port}"]


def client_for(cluster: Cluster) -> AgentClient:
    """A client of `cluster`'s agents with its stored credentials and pinned keys (decrypted only here, in memory)."""
    return AgentClient(
        agent_addresses(cluster),
        password=field_decrypt(cluster.ob_password_encrypted) if cluster.ob_password_encrypted else "",
        agent_password=field_decrypt(cluster.agent_password_encrypted) if cluster.agent_password_encrypted else "",
        pinned_keys=cluster.agent_public_key,
    )
