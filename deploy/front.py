#!/usr/bin/env python3
"""A small front for the scale-out profile: a round-robin TCP proxy over several web processes.

    python deploy/front.py --port 8000 --backend 127.0.0.1:8001 --backend 127.0.0.1:8002

Each client connection goes to the next backend in turn and its bytes are relayed both ways unchanged, so
HTTP (keep-alive included) and WebSockets (the `Upgrade` handshake and every frame after it) pass as they
are, the `Host` and `Origin` headers too (the application checks them). A backend that refuses a connection
is skipped and marked down for `--retry-after` seconds, so a client is never handed to a dead process; a
connection open to a process that dies is closed, and the client's reconnect (the run page's socket does it
by itself) reaches a live one.

Standard library only (asyncio), no dependency on the project: it can run on a host of its own. It is enough
for one machine or a small team; behind it the client address is the front's, so in a larger deployment put
a real load balancer (nginx, HAProxy, a cloud one) in its place, with the same rules: WebSocket upgrade
passed, idle timeouts above the sockets' 30 s heartbeat, and health checks on `GET /readyz`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import logging
import os
import signal
import time

logger = logging.getLogger("front")

CONNECT_TIMEOUT = 3.0
BUFFER = 64 * 1024


class Backends:
    def __init__(self, addresses: list[tuple[str, int]], retry_after: float):
        self.addresses = addresses
        self.retry_after = retry_after
        self.down_until: dict[tuple[str, int], float] = {}
        self._turn = itertools.count()

    def order(self) -> list[tuple[str, int]]:
        """Every backend once, starting with the next one in turn; those marked down last."""
        start = next(self._turn) % len(self.addresses)
        rotated = self.addresses[start:] + self.addresses[:start]
        now = time.monotonic()
        return [a for a in rotated if self.down_until.get(a, 0) <= now] + [
            a for a in rotated if self.down_until.get(a, 0) > now
        ]

    def mark_down(self, address: tuple[str, int], reason: str) -> None:
        if self.down_until.get(address, 0) <= time.monotonic():
            logger.warning("backend %s:%s down (%s)", *address, reason)
        self.down_until[address] = time.monotonic() + self.retry_after

    def mark_up(self, address: tuple[str, int]) -> None:
        if self.down_until.pop(address, None) is not None:
            logger.warning("backend %s:%s up again", *address)


async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(BUFFER):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            if writer.can_write_eof():
                writer.write_eof()


async def connect_any(backends: Backends):
    for address in backends.order():
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(*address), CONNECT_TIMEOUT)
        except (TimeoutError, OSError) as exc:
            backends.mark_down(address, type(exc).__name__)
            continue
        backends.mark_up(address)
        return reader, writer
    return None


async def handle(backends: Backends, client_reader, client_writer) -> None:
    upstream = await connect_any(backends)
    if upstream is None:
        body = b"no backend answers\n"
        client_writer.write(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        with contextlib.suppress(Exception):
            await client_writer.drain()
        client_writer.close()
        return
    upstream_reader, upstream_writer = upstream
    tasks = [
        asyncio.create_task(relay(client_reader, upstream_writer)),
        asyncio.create_task(relay(upstream_reader, client_writer)),
    ]
    # Half-close is passed on; once the backend side ends (or dies) the client connection is closed, so a
    # websocket open to a dead process ends and its client reconnects through the front.
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    if tasks[1] in done:
        for task in pending:
            task.cancel()
    else:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(tasks[1], 60)
    for writer in (upstream_writer, client_writer):
        with contextlib.suppress(Exception):
            writer.close()


def parse_backend(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: expected host:port")
    return host.strip("[]"), int(port)


async def serve(args) -> None:
    backends = Backends(args.backend, args.retry_after)
    server = await asyncio.start_server(
        lambda r, w: handle(backends, r, w), args.host, args.port, reuse_address=True, backlog=1024
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    targets = ", ".join(f"{h}:{p}" for h, p in args.backend)
    print(f"front listening on {args.host}:{args.port}, round-robin over {targets}", flush=True)
    async with server:
        await stop.wait()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default=os.environ.get("FRONT_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("FRONT_PORT", "8000")))
    parser.add_argument(
        "--backend",
        type=parse_backend,
        action="append",
        help="host:port of a web process (repeat); default: FRONT_BACKENDS, comma-separated",
    )
    parser.add_argument("--retry-after", type=float, default=2.0, help="seconds a refusing backend is skipped")
    args = parser.parse_args(argv)
    if not args.backend:
        listed = [b for b in os.environ.get("FRONT_BACKENDS", "").split(",") if b.strip()]
        if not listed:
            parser.error("no backend: give --backend host:port (or FRONT_BACKENDS)")
        args.backend = [parse_backend(b.strip()) for b in listed]
    logging.basicConfig(level=logging.INFO, format="%(asctime)s front %(levelname)s %(message)s")
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
