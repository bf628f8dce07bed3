"""deploy/front.py, the scale-out profile's small front, as a real process over real backends: round-robin,
WebSockets passed through both ways, and a dead backend skipped so every request still gets an answer."""

import asyncio
import http.client

import pytest
import websockets

from upgrades.operations.processes import FrontProcess, ProcessGroup, free_port

pytestmark = pytest.mark.slow


async def backend(name, port):
    """An HTTP server answering its name, and a websocket echo that prefixes it."""

    async def handler(connection):
        async for message in connection:
            await connection.send(f"{name}:{message}")

    def plain_http(connection, request):
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return connection.respond(http.HTTPStatus.OK, name)
        return None

    return await websockets.serve(handler, "127.0.0.1", port, process_request=plain_http)


def get(url_port):
    connection = http.client.HTTPConnection("127.0.0.1", url_port, timeout=5)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


async def test_round_robin_websockets_and_failover(tmp_path):
    ports = [free_port(), free_port()]
    servers = [await backend("a", ports[0]), await backend("b", ports[1])]
    with ProcessGroup(tmp_path) as group:
        front = group.add(FrontProcess([f"127.0.0.1:{p}" for p in ports]))
        await asyncio.to_thread(group.start)

        answers = [await asyncio.to_thread(get, front.port) for _ in range(4)]
        assert sorted(answers) == [(200, "a"), (200, "a"), (200, "b"), (200, "b")]

        async with websockets.connect(f"{front.ws_url}/ws/") as socket:
            await socket.send("hello")
            first = await socket.recv()
            await socket.send("again")
            assert await socket.recv() == first.replace("hello", "again")  # one socket, one backend
        assert first in ("a:hello", "b:hello")

        servers[0].close()
        await servers[0].wait_closed()
        answers = [await asyncio.to_thread(get, front.port) for _ in range(6)]
        assert answers == [(200, "b")] * 6
        async with websockets.connect(f"{front.ws_url}/ws/") as socket:
            await socket.send("x")
            assert await socket.recv() == "b:x"

        servers[1].close()
        await servers[1].wait_closed()
        status, body = await asyncio.to_thread(get, front.port)
        assert (status, body) == (503, "no backend answers\n")
        assert f"backend 127.0.0.1:{ports[0]} down" in front.log_path.read_text()
