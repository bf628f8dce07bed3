"""The open routes (info, status, secret) and the authenticated ob/info.

An anonymous caller of an open route learns nothing of this server's fleet or host: no cluster name, zone,
path or pid (pid 0, homePath ""), and under /clusters/<name>/ the same answer whether or not <name> exists
(the prefix is not even looked up). A signed-in user with the viewer role gets the full answer, and 404 for
an unknown cluster (see upgrades/api/__init__.py).
"""

from upgrades.api import agent
from upgrades.api.base import ObshellView
from upgrades.api.obinfo import ob_info
from upgrades.api.schemas import documented
from upgrades.errors import not_found
from upgrades.models import Cluster
from upgrades.roles import has_role
from upgrades.security.keys import public_key_pkcs1_b64


def _insider(view):
    user = getattr(view.django_request, "user", None)
    return user is not None and user.is_authenticated and has_role(user, "viewer")


def _anonymous(data):
    """What an anonymous caller may see of an info or status answer: no pid, no path."""
    return {**data, "pid": 0, **({"homePath": ""} if "homePath" in data else {})}


def _prefixed_cluster(view):
    if view.cluster_name is None or not _insider(view):
        return None
    cluster = Cluster.objects.filter(name=view.cluster_name).first()
    if cluster is None:
        raise not_found("Common.NotFound", f"Element not found: cluster {view.cluster_name}")
    return cluster


class InfoView(ObshellView):
    authenticated = False

    @documented(summary="Agent identity, version and supported auth (no auth)", data="AgentInfo", authenticated=False)
    def get(self, request, **kwargs):
        data = agent.info(self.django_request, _prefixed_cluster(self))
        return self.ok(data if _insider(self) else _anonymous(data))


class StatusView(ObshellView):
    authenticated = False

    @documented(summary="Agent and OB state (no auth)", data="AgentStatus", authenticated=False)
    def get(self, request, **kwargs):
        # obshell's status answer carries an empty traceId (spec 1.1).
        data = agent.status(self.django_request, _prefixed_cluster(self))
        return self.ok(data if _insider(self) else _anonymous(data), trace=False)

    @documented(
        summary="Agent and OB state (no auth; obshell also answers POST)", data="AgentStatus", authenticated=False
    )
    def post(self, request, **kwargs):
        return self.get(request, **kwargs)


class SecretView(ObshellView):
    authenticated = False

    @documented(summary="The RSA public key, PKCS#1 DER in base64 (no auth)", data="PublicKey", authenticated=False)
    def get(self, request, **kwargs):
        _prefixed_cluster(self)  # an unknown /clusters/<name>/ is 404, as on the other open routes
        ip, port = agent.client_address(self.django_request)
        return self.ok({"ip": ip, "port": port, "public_key": public_key_pkcs1_b64()})


class ObInfoView(ObshellView):
    @documented(summary="The cluster, its servers and their build versions", data="ObInfo")
    def get(self, request, **kwargs):
        return self.ok(ob_info(self.require_cluster()))
