"""API-specific helpers: a Django test client that signs its requests like the SDK, and a live server set up
for SDK tests (the embedded engine at zero simulated durations, no auth throttling). Builds, packages, the
live server itself and waiting come from tests/support/."""

import json

import requests

from tests.api.signing import as_meta, load_public_key, v1_request, v2_request
from tests.support.live_server import LiveServer
from upgrades.security.keys import public_key_pkcs1_b64


class Api:
    """A Django test client speaking v2 (or v1) auth for one token."""

    def __init__(self, client, password):
        self.client = client
        self.password = password
        self.public_key = load_public_key(public_key_pkcs1_b64())

    def call(self, method, uri, body=None, *, password=None, scheme="v2", **kw):
        password = self.password if password is None else password
        if scheme == "v2":
            headers, data = v2_request(self.public_key, password=password, uri=uri, body=body, **kw)
        else:
            headers = v1_request(self.public_key, password=password, **kw)
            data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body else b"")
        return self.client.generic(method, uri, data=data, content_type="text/plain", **as_meta(headers))

    def get(self, uri, **kw):
        return self.call("GET", uri, **kw)

    def post(self, uri, body=None, **kw):
        return self.call("POST", uri, body, **kw)


def sdk_server(media_root):
    """A server for SDK tests (start it with `with`): two embedded engine threads at zero simulated durations,
    v1 auth on, and failed authentications not throttled (refusal tests make many)."""
    return LiveServer(
        media_root=media_root,
        EMBEDDED_WORKER=1,
        EMBEDDED_WORKER_THREADS=2,
        SIMULATION_SPEED=0,
        OCS_AUTH_V1=1,  # off by default; test_v1_auth_through_the_sdk drives it through this server
        settings={"API_AUTH_FREE_FAILURES": 1000},
    )


def multipart(path, field="file"):
    """The multipart body and content type exactly as SDK 0.0.9's _parse_pkg prepares them."""
    with open(path, "rb") as f:
        prepared = requests.Request("POST", "http://x/api/v1/ob/pkg/upload", files={field: (path.name, f)}).prepare()
    return prepared.body, prepared.headers["Content-Type"]
