"""The API client fixtures of tests/api (a token of a three-zone cluster, a client signing as that token)."""

from tests.api.conftest import _fresh_throttle, api, cluster, token  # noqa: F401
