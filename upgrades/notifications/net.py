"""Reaching a webhook target safely.

A target is refused when any address its host resolves to is private, loopback, link-local, multicast,
reserved, unspecified or otherwise not globally routable (IPv4 and IPv6; an IPv6 address that carries an IPv4
one, mapped, 6to4 or NAT64, is judged by that IPv4 address), unless WEBHOOK_ALLOW_PRIVATE=1. The check runs
when a subscription is saved and again at every delivery, and the connection is opened to the very address
that was checked (the URL's host still goes in the Host header and TLS's SNI and certificate check), so a DNS
answer that changes between the check and the connect (rebinding) cannot reach an inside address. Redirects
are never followed; connect, each read and the whole exchange are bounded in time; the answer is read up to
MAX_RESPONSE_BYTES."""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

MAX_RESPONSE_BYTES = 64 * 1024
MAX_URL_LENGTH = 2000
NAT64 = ipaddress.ip_network("64:ff9b::/96")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(Exception):
    """The target may not be reached (a bad URL, or an address the guard refuses). Never retried."""


class SendFailed(Exception):
    """The exchange failed (connection, TLS, timeout, protocol); retried with backoff."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # path and query, as sent


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    truncated: bool
    address: str
    location: str = ""


def parse_url(url: str) -> Target:
    if not isinstance(url, str) or not url.strip():
        raise TargetRefused("the URL is empty")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise TargetRefused("the URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"the URL cannot be read: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("the URL must start with http:// or https://")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("the URL may not carry a user name or password")
    host = parts.hostname or ""
    if not host:
        raise TargetRefused("the URL has no host")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path)


def redacted(url: str) -> str:
    """What may be shown and logged of a URL: scheme, host and port (paths and queries often hold tokens)."""
    try:
        target = parse_url(url)
    except TargetRefused:
        return "(invalid URL)"
    default = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    port = "" if target.port == default else f":{target.port}"
    rest = "/…" if target.path not in ("", "/") else "/"
    return f"{target.scheme}://{host}{port}{rest}"


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_refusal(address: IPAddress) -> str | None:
    """Why a webhook may not connect to `address`, or None if it may."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            reason = address_refusal(inner)
            if reason:
                return f"{reason} (in {address})"
            if address.ipv4_mapped is not None:
                return None
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("not globally routable", not address.is_global),
    )
    for reason, hit in checks:
        if hit:
            return reason
    return None


def getaddrinfo(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (a module-level hook so tests can stand in a resolver)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def checked_addresses(host: str, port: int, *, allow_private: bool | None = None) -> list[IPAddress]:
    """Resolve `host` and check every address it has; refuses if one is refused (a mixed answer is refused
    whole: which address a client picks is not ours to predict)."""
    if allow_private is None:
        allow_private = settings.WEBHOOK_ALLOW_PRIVATE
    try:
        literal = ipaddress.ip_address(host)
        found = [str(literal)]
    except ValueError:
        try:
            found = getaddrinfo(host, port)
        except (OSError, UnicodeError) as exc:
            raise TargetRefused(f"{host} does not resolve: {exc}") from None
    addresses: list[IPAddress] = []
    for text in found:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise TargetRefused(f"{host} does not resolve")
    if not allow_private:
        for address in addresses:
            reason = address_refusal(address)
            if reason:
                raise TargetRefused(
                    f"{host} resolves to {address}, a {reason} address: refused (WEBHOOK_ALLOW_PRIVATE=1 allows it)"
                )
    return addresses


def check_url(url: str) -> Target:
    """Subscription-time check: the URL is well formed and its host resolves only to allowed addresses."""
    target = parse_url(url)
    checked_addresses(target.host, target.port)
    return target


def _connect(target: Target, addresses: list[IPAddress], deadline: float, connect_timeout: float) -> socket.socket:
    last: OSError | None = None
    for address in addresses[:4]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            return socket.create_connection((str(address), target.port), timeout=min(connect_timeout, remaining))
        except OSError as exc:
            last = exc
    raise SendFailed(f"cannot connect to {target.host}:{target.port}: {last or 'timed out'}")


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float | None = None) -> Answer:
    """POST `body` to `url` through the guard: one attempt, no redirects, bounded in time and answer size."""
    total = float(timeout if timeout is not None else settings.NOTIFY_TIMEOUT_SECONDS)
    deadline = time.monotonic() + total
    target = parse_url(url)
    addresses = checked_addresses(target.host, target.port)
    sock = _connect(target, addresses, deadline, connect_timeout=min(5.0, total))
    try:
        peer = ipaddress.ip_address(sock.getpeername()[0].split("%", 1)[0])
        if peer not in addresses:  # the socket is ours: never happens, kept as the guard's last word
            raise TargetRefused(f"connected to {peer}, which was not checked")
        if target.scheme == "https":
            context = ssl.create_default_context()
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                sock = context.wrap_socket(sock, server_hostname=target.host)
            except (ssl.SSLError, OSError) as exc:
                raise SendFailed(f"TLS with {target.host} failed: {exc}") from None
        return _exchange(target, sock, str(peer), body, headers, deadline)
    finally:
        sock.close()


class _PinnedConnection(http.client.HTTPConnection):
    """http.client over a socket we opened (to the checked address) and close ourselves: its own close()
    would close the socket under the response we are still reading with our deadline."""

    def close(self) -> None:
        self.sock = None
        super().close()


def _exchange(target: Target, sock: socket.socket, peer: str, body: bytes, headers: dict, deadline: float) -> Answer:
    connection = _PinnedConnection(target.host, target.port, timeout=max(0.1, deadline - time.monotonic()))
    connection.sock = sock  # already connected to the checked address; http.client only writes and reads
    try:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        connection.request("POST", target.path, body=body, headers={**headers, "Connection": "close"})
        response = connection.getresponse()
        chunks: list[bytes] = []
        size = 0
        truncated = False
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                truncated = True
                break
            sock.settimeout(remaining)
            chunk = response.read(min(8192, MAX_RESPONSE_BYTES + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                truncated = True
                break
        data = b"".join(chunks)[:MAX_RESPONSE_BYTES]
        return Answer(response.status, data, truncated, peer, response.getheader("Location", "") or "")
    except TimeoutError:
        raise SendFailed(f"no answer from {target.host} within the timeout") from None
    except (OSError, http.client.HTTPException) as exc:
        raise SendFailed(f"{type(exc).__name__}: {exc}"[:300]) from None
    finally:
        connection.close()
