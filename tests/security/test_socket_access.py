"""Live sockets need the viewer role and this very origin (issue 9).

- connect(): a socket without a session is closed with 4401, one whose user has no role with 4403 (after
  accepting, so the browser sees the code and stops reconnecting); before, any signed-in user got the DAG
  snapshot, which names who started the run and why.
- Every heartbeat re-reads the session and the role: signing out, an expired session, a changed password or
  a removed role closes an open socket (4401 / 4403).
- The origin must match the request's scheme, host and port (or CSRF_TRUSTED_ORIGINS); before, only the host
  was compared.
- A client sending more than LIVE_MAX_MESSAGES_PER_MINUTE messages is closed with 4429.
"""

from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import User
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from tests.live.helpers import make_dag
from tests.support.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://localhost")
HOST = (b"host", b"localhost")


def _signed_in(role):
    user = make_user(role) if role else User.objects.create_user(username="nobody", password="correct-horse-battery")
    client = Client()
    client.force_login(user)
    return user, client


async def signed_in(role="viewer"):
    """(user, its Django test client, the socket headers of its session)."""
    user, client = await database_sync_to_async(_signed_in)(role)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    return user, client, [ORIGIN, HOST, (b"cookie", cookie)]


# A socket handshake reads the session and roles from the database: generous on a loaded machine.
CONNECT_TIMEOUT = 10


def communicator(path, headers):
    from dashboard.asgi import application

    return WebsocketCommunicator(application, path, headers=headers)


async def socket_paths():
    dag = await database_sync_to_async(make_dag)()
    return [f"/ws/dags/{dag.pk}/", "/ws/feed/"]


async def close_code(socket, *, limit=200):
    """Reads frames until the server closes the socket; its close code."""
    for _ in range(limit):
        output = await socket.receive_output(timeout=5)
        if output["type"] == "websocket.close":
            return output.get("code")
    raise AssertionError("the socket was not closed")


async def opened(path, headers):
    socket = communicator(path, headers)
    connected, _ = await socket.connect(timeout=CONNECT_TIMEOUT)
    assert connected
    first = await socket.receive_json_from()
    assert first["type"] in ("snapshot", "hello")
    return socket


# --- connect() -----------------------------------------------------------------------------------------------


async def test_no_session_closes_with_4401():
    for path in await socket_paths():
        socket = communicator(path, [ORIGIN, HOST])
        assert (await socket.connect(timeout=CONNECT_TIMEOUT))[0]
        assert await socket.receive_output() == {"type": "websocket.close", "code": 4401}


async def test_no_role_closes_with_4403_and_sends_nothing():
    _, _, headers = await signed_in(None)
    for path in await socket_paths():
        socket = communicator(path, headers)
        assert (await socket.connect(timeout=CONNECT_TIMEOUT))[0]
        # The first frame is the close: no snapshot (who started the run, and why) and no hello.
        assert await socket.receive_output() == {"type": "websocket.close", "code": 4403}


async def test_a_viewer_is_served():
    _, _, headers = await signed_in("viewer")
    for path in await socket_paths():
        socket = await opened(path, headers)
        await socket.disconnect()


# --- the heartbeat re-check ----------------------------------------------------------------------------------


@pytest.fixture
def quick_heartbeat(settings):
    settings.LIVE_HEARTBEAT_SECONDS = 0.05


async def test_signing_out_closes_open_sockets_at_the_next_heartbeat(quick_heartbeat):
    for path in await socket_paths():
        _, client, headers = await signed_in("viewer")
        socket = await opened(path, headers)
        await sync_to_async(client.logout)()
        assert await close_code(socket) == 4401


def expire(session_key):
    Session.objects.filter(session_key=session_key).update(expire_date=timezone.now() - timedelta(seconds=1))


def change_password(user):
    user.set_password("another-horse-battery")
    user.save()


async def test_an_expired_session_closes_open_sockets(quick_heartbeat):
    for path in await socket_paths():
        _, client, headers = await signed_in("viewer")
        socket = await opened(path, headers)
        await database_sync_to_async(expire)(client.cookies["sessionid"].value)
        assert await close_code(socket) == 4401


async def test_a_password_change_closes_open_sockets(quick_heartbeat):
    for path in await socket_paths():
        user, _, headers = await signed_in("viewer")
        socket = await opened(path, headers)
        await database_sync_to_async(change_password)(user)
        assert await close_code(socket) == 4401


async def test_removing_the_role_closes_open_sockets_with_4403(quick_heartbeat):
    for path in await socket_paths():
        user, _, headers = await signed_in("viewer")
        socket = await opened(path, headers)
        await database_sync_to_async(user.groups.clear)()
        assert await close_code(socket) == 4403


# --- the origin ------------------------------------------------------------------------------------------------

SAME = [
    ("http://localhost", "localhost", {}),
    ("http://localhost:80", "localhost", {}),
    ("http://localhost:8000", "localhost:8000", {}),
    ("HTTP://LocalHost:8000", "localhost:8000", {}),
    ("https://localhost", "localhost", {"x-forwarded-proto": "https"}),  # behind a trusted proxy
    ("https://dash.example.com", "localhost", {}),  # CSRF_TRUSTED_ORIGINS
    ("https://a.corp.example", "localhost", {}),  # CSRF_TRUSTED_ORIGINS wildcard
]
OTHER = [
    ("https://localhost", "localhost", {}),  # scheme: the socket came over plain ws
    ("http://localhost:8080", "localhost", {}),  # port
    ("http://localhost", "localhost:8000", {}),  # port
    ("http://localhost:8000", "localhost", {}),  # port
    ("http://localhost", "localhost", {"x-forwarded-proto": "https"}),  # scheme, behind a trusted proxy
    ("http://evil.example", "localhost", {}),  # host
    ("http://evil.example", "evil.example", {}),  # a host outside ALLOWED_HOSTS
    ("null", "localhost", {}),
    ("", "localhost", {}),
    ("http://dash.example.com", "localhost", {}),  # trusted origin, other scheme
    ("https://dash.example.com:8443", "localhost", {}),  # trusted origin, other port
    ("https://corp.example.evil", "localhost", {}),
]


@pytest.fixture
def trusted(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://dash.example.com", "https://*.corp.example"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


def origin_headers(base, origin, host, extra):
    headers = [h for h in base if h[0] not in (b"origin", b"host")] + [(b"host", host.encode())]
    if origin:
        headers.append((b"origin", origin.encode()))
    return headers + [(name.encode(), value.encode()) for name, value in extra.items()]


@pytest.mark.parametrize(("origin", "host", "extra"), SAME)
async def test_the_same_origin_is_accepted(trusted, origin, host, extra):
    _, _, base = await signed_in("viewer")
    socket = await opened("/ws/feed/", origin_headers(base, origin, host, extra))
    await socket.disconnect()


@pytest.mark.parametrize(("origin", "host", "extra"), OTHER)
async def test_another_origin_is_refused(trusted, origin, host, extra):
    _, _, base = await signed_in("viewer")
    for path in await socket_paths():
        connected, _ = await communicator(path, origin_headers(base, origin, host, extra)).connect(
            timeout=CONNECT_TIMEOUT
        )
        assert not connected, (origin, host, extra)


async def test_x_forwarded_proto_counts_only_from_a_trusted_proxy(settings):
    settings.SECURE_PROXY_SSL_HEADER = None
    _, _, base = await signed_in("viewer")
    headers = origin_headers(base, "https://localhost", "localhost", {"x-forwarded-proto": "https"})
    connected, _ = await communicator("/ws/feed/", headers).connect(timeout=CONNECT_TIMEOUT)
    assert not connected


# --- message limits --------------------------------------------------------------------------------------------


@pytest.fixture
def three_per_minute(settings):
    settings.LIVE_MAX_MESSAGES_PER_MINUTE = 3


async def test_the_dag_socket_closes_past_the_message_limit(three_per_minute):
    _, _, headers = await signed_in("viewer")
    dag_path = (await socket_paths())[0]
    socket = communicator(dag_path, headers)
    assert (await socket.connect(timeout=CONNECT_TIMEOUT))[0]
    snapshot = await socket.receive_json_from()
    for _ in range(4):
        await socket.send_json_to({"type": "resume", "after_seq": snapshot["seq"]})
    replays = 0
    while (output := await socket.receive_output(timeout=5))["type"] != "websocket.close":
        replays += '"type": "replay"' in output.get("text", "")
    assert output["code"] == 4429
    assert replays == 3


async def test_the_feed_closes_past_the_message_limit(three_per_minute):
    _, _, headers = await signed_in("viewer")
    socket = await opened("/ws/feed/", headers)
    for _ in range(3):
        await socket.send_json_to({"type": "anything"})
        assert (await socket.receive_json_from())["type"] == "error"
    await socket.send_json_to({"type": "anything"})
    assert await close_code(socket) == 4429


async def test_under_the_limit_nothing_closes(three_per_minute):
    _, _, headers = await signed_in("viewer")
    socket = await opened("/ws/feed/", headers)
    for _ in range(3):
        await socket.send_to(text_data="not json")
        assert (await socket.receive_json_from())["type"] == "error"
    assert await socket.receive_nothing(timeout=0.2)
    await socket.disconnect()
