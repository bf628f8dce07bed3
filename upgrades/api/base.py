"""The base of every obshell route: a DRF APIView whose authentication and rendering are ours (the envelope)."""

from django.http import Http404
from rest_framework.exceptions import APIException, MethodNotAllowed, NotFound
from rest_framework.views import APIView

from upgrades.api import envelope
from upgrades.errors import ObshellError, bad_request
from upgrades.security.authenticate import authenticate

TRUE_VALUES = {"1", "t", "T", "TRUE", "true", "True"}
FALSE_VALUES = {"0", "f", "F", "FALSE", "false", "False"}


def parse_go_bool(value, *, name, default=True):
    """Go's strconv.ParseBool, as gin binds `show_details` (spec 3.2)."""
    if value is None:
        return default
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    raise bad_request("Request.Query.Param.Illegal", f"Invalid query parameter {name}: '{value}'")


class ObshellView(APIView):
    """Subclasses set `authenticated = False` for obshell's open routes (info, status, secret)."""

    authenticated = True
    caller = None
    http_method_names = ["get", "post", "delete", "head"]

    def initial(self, request, *args, **kwargs):
        # DRF's negotiation, authentication, permissions and throttles are replaced by obshell's rules.
        self.format_kwarg = None
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise envelope.NOT_FOUND
        self.django_request = request._request
        self.cluster_name = kwargs.get("cluster_name")
        if self.authenticated:
            self.caller = authenticate(self.django_request, cluster_name=self.cluster_name)

    def handle_exception(self, exc):
        request = self.request._request
        if isinstance(exc, ObshellError):
            return envelope.fail(request, exc)
        if isinstance(exc, (MethodNotAllowed, NotFound, Http404)):
            return envelope.fail(request, envelope.NOT_FOUND)
        if isinstance(exc, APIException):
            return envelope.fail(request, bad_request("Common.BadRequest", str(exc.detail)))
        return super().handle_exception(exc)

    def ok(self, data=envelope.NO_DATA, **kw):
        return envelope.ok(self.django_request, data, **kw)

    def show_details(self, default=True):
        return parse_go_bool(self.django_request.GET.get("show_details"), name="show_details", default=default)

    def require_cluster(self):
        """The cluster this request acts on; a session user names it with the /clusters/<name>/ prefix."""
        if self.caller.cluster is None:
            raise bad_request(
                "Request.Path.Param.Empty",
                "Cluster not specified: use /clusters/<name>/api/v1/... with a browser session",
            )
        return self.caller.cluster
