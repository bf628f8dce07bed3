"""Driving the ASGI door (upgrades.api.asgi.stamp_receipt_time) with a body that declares no length."""

import asyncio

from upgrades.api.asgi import stamp_receipt_time


def messages_read_past_the_door(path, *, chunk_size, chunks=100):
    """The message types an app behind the door receives while a client streams `chunks` chunks of
    `chunk_size` bytes to `path` with no Content-Length."""
    seen = []

    async def app(scope, receive, send):
        while True:
            message = await receive()
            seen.append(message["type"])
            if message["type"] != "http.request" or not message.get("more_body"):
                return

    stream = iter([{"type": "http.request", "body": b"x" * chunk_size, "more_body": True}] * chunks)

    async def receive():
        return next(stream)

    async def send(message):
        pass

    scope = {"type": "http", "method": "POST", "path": path, "headers": []}
    asyncio.run(stamp_receipt_time(app)(scope, receive, send))
    return seen
