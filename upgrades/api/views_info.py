"""The open routes (info, status, secret) and the authenticated ob/info."""

from upgrades.api import agent
from upgrades.api.base import ObshellView
from upgrades.api.obinfo import ob_info
from upgrades.api.schemas import documented
from upgrades.errors import not_found
from upgrades.models import Cluster
from upgrades.security.keys import public_key_pkcs1_b64


def _prefixed_cluster(view):
    if view.cluster_name is None:
        return None
    cluster = Cluster.objects.filter(name=view.cluster_name).first()
    if cluster is None:
        raise not_found("Common.NotFound", f"Element not found: cluster {view.cluster_name}")
    return cluster


class InfoView(ObshellView):
    authenticated = False

    @documented(summary="Agent identity, version and supported auth (no auth)", data="AgentInfo", authenticated=False)
    def get(self, request, **kwargs):
        return self.ok(agent.info(self.django_request, _prefixed_cluster(self)))


class StatusView(ObshellView):
    authenticated = False

    @documented(summary="Agent and OB state (no auth)", data="AgentStatus", authenticated=False)
    def get(self, request, **kwargs):
        # obshell's status answer carries an empty traceId (spec 1.1).
        return self.ok(agent.status(self.django_request, _prefixed_cluster(self)), trace=False)

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
