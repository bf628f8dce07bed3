"""A real HTTP server in a thread that records what webhooks POST to it, for the notification tests.

with WebhookReceiver() as receiver:
    receiver.answers = [(500, b"busy")]  # then 200 "ok" for every request after
    ... receiver.url("/hook?access_token=t") ...
    request = receiver.wait_for(1)[0]   # .path, .query, .headers, .body
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.support.waiting import wait_until


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = field(repr=False)


class WebhookReceiver:
    def __init__(self, host: str = "127.0.0.1") -> None:
        self.requests: list[Received] = []
        self.answers: list[tuple[int, bytes]] = []
        self.default_answer: tuple[int, bytes] = (200, b"ok")
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                parts = urlsplit(self.path)
                with receiver._lock:
                    receiver.requests.append(
                        Received("POST", parts.path, parse_qs(parts.query), dict(self.headers.items()), body)
                    )
                    status, answer = receiver.answers.pop(0) if receiver.answers else receiver.default_answer
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str = "/hook") -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}{path}"

    def wait_for(self, count: int, timeout: float = 15) -> list[Received]:
        wait_until(lambda: len(self.requests) >= count, timeout=timeout, what=f"{count} webhook request(s)")
        with self._lock:
            return list(self.requests)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
