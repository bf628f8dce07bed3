"""A client of a real obshell agent (`../shared/reference/obshell-agent-client.md`, "client §n"; the wire protocol in
`obshell-upgrade-api.md`, "spec §n"), on our own crypto. The official SDK is a test oracle only: it holds uploads in
memory, polls every 3 s and resends on any error, none of which a server mirroring production clusters may do.

What it does:
- negotiation per address: `GET /api/v1/info` (auth v1 for a 4.2.2.0 agent without `supportedAuth`, else v2), then
  `GET /api/v1/secret`; keys are per agent, and pinned by the caller (`pinned_keys`): a key that differs from the
  pinned one raises `AgentKeyChanged` before anything is signed with it;
- a restart (a changed `startAt` or `pid`, or a DecryptFailed answer) makes it fetch the key again (client §2);
- reads fall back to the next address on a refused connection, a timeout or the 5xx an agent gives while its own
  observer is down (client §4.3); a 404 `Task.NotFound` from an agent whose observer is up is authoritative;
- writes (operators, starts) go only to an agent whose `/status.obState` is 3 (client §4.3 "Operators");
- errors of both formats (`{code, message}` before 4.3.1, `{code?, errCode, message}` after) become `AgentRefused`;
  a rejected password becomes `CredentialsRejected` at once, never retried (each attempt is a root@sys login on the
  agent's observer, client §3);
- uploads stream the encrypted multipart body from disk with its length known in advance (bounded memory).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests

from upgrades.security.crypto import (
    AesEncryptingReader,
    aes_encrypt,
    aes_encrypted_length,
    load_agent_public_key,
    rsa_encrypt_chunks,
)

# Client §7: 10-30 s is enough for the open routes; peer-calling routes can take minutes when a host blackholes.
SHORT_TIMEOUT = 20.0
LONG_TIMEOUT = 330.0
CONNECT_TIMEOUT = 5.0
HEADER_LIFETIME = 60
# Agents up to 4.2.5 check `ts` after the body is read (client §1.1), so their uploads need a header that outlives
# the transfer; later agents (and this dashboard, which caps lifetimes) check it on receipt.
UPLOAD_HEADER_LIFETIME_BEFORE_4_2_6 = 3600
# Client §4.3's read fallback: the local observer is down or starting, the request may succeed on a peer.
OBSERVER_DOWN_CODES = ("OB.Server.Process.NotExist", "Agent.OceanBase.", "Common.Unexpected")
# Legacy integer codes (spec §1.2) as the errCode a current agent would send.
LEGACY_CODES = {
    1: "Security.Authentication.Header.DecryptFailed",
    1000: "Common.BadRequest",
    1001: "Common.IllegalArgument",
    1002: "Common.Unexpected",
    1003: "Common.NotFound",
    1010: "Common.Known",
    2300: "Task.NotFound",
    2301: "Task.CreateFailed",
    10000: "Common.PermissionDenied",
    10008: "Common.Unauthorized",
}
PASSWORD_REJECTED = ("IncorrectOceanbasePassword", "IncorrectAgentPassword", "access denied")


class AgentError(Exception):
    """Anything that kept an agent call from giving an answer."""


class AgentUnreachable(AgentError):
    """No address answered (refused, reset, timed out): expected while an agent restarts."""


@dataclass
class AgentRefused(AgentError):
    """The agent answered with an error envelope."""

    status: int
    err_code: str
    message: str
    code: int | None = None
    address: str = ""

    def __str__(self):
        return f"{self.err_code}: {self.message}"

    @property
    def observer_down(self):
        """Client §4.3: a 5xx an agent answers while its own observer is gone or starting."""
        return self.status >= 500 and self.err_code.startswith(OBSERVER_DOWN_CODES)

    @property
    def key_stale(self):
        return self.status == 401 and (
            self.err_code == "Security.Authentication.Header.DecryptFailed"
            or self.code == 1
            or "header decrypt failed" in self.message
        )


class CredentialsRejected(AgentRefused):
    """401 for the password itself: stop at once and show "credentials rejected" (client §3)."""


@dataclass
class AgentKeyChanged(AgentError):
    """The agent now publishes a key other than the pinned one; nothing was sent with it."""

    address: str
    pinned: str
    published: str

    def __str__(self):
        return f"the public key of the agent at {self.address} changed"


@dataclass
class AgentInfo:
    """What `GET /api/v1/info` says, and what the client derived from it."""

    version: str
    identity: str
    auth: str  # "v1" or "v2"
    security: bool
    start_at: int | None
    pid: int | None
    raw: dict = field(repr=False, default_factory=dict)


def version_tuple(text):
    """Spec §2.4's loose parse: every run of digits is a component, up to the first `-` (the release)."""
    parts = []
    for piece in (text or "").split("-")[0].split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if digits:
            parts.append(int(digits))
    return tuple(parts)


def _refusal(status, document, address):
    error = document.get("error") if isinstance(document, dict) else None
    if not isinstance(error, dict):
        return AgentRefused(status, "Common.Unexpected", f"HTTP {status} without an obshell error", None, address)
    code = error.get("code") if isinstance(error.get("code"), int) else None
    err_code = error.get("errCode") or LEGACY_CODES.get(code or 0, "Common.Unexpected")
    message = str(error.get("message") or "")
    kind = AgentRefused
    if status == 401 and (any(mark in err_code for mark in PASSWORD_REJECTED) or "access denied" in message):
        kind = CredentialsRejected
    return kind(status, err_code, message, code, address)


class AgentClient:
    """Talks to one cluster's agents. `addresses` are the `HOST:PORT`s the DBA gave, dialled in order; addresses an
    agent reports about its peers are never dialled (issue 12: the dashboard may see other networks)."""

    def __init__(self, addresses, *, password, agent_password="", pinned_keys=None, session=None):
        if not addresses:
            raise ValueError("at least one agent address is needed")
        self.addresses = list(addresses)
        self.password = password
        self.agent_password = agent_password
        self.pinned_keys = dict(pinned_keys or {})  # address → base64 key the caller trusts
        self.session = session or requests.Session()
        self._info: dict[str, AgentInfo] = {}
        self._keys: dict[str, tuple[str, Any]] = {}  # address → (base64, loaded key)
        self.current = self.addresses[0]

    # -- open routes --------------------------------------------------------------------------------------------

    def _open(self, method, address, path, timeout=SHORT_TIMEOUT):
        return self._send(method, address, path, headers={}, body=None, timeout=timeout)

    def info(self, address=None):
        address = address or self.current
        data = self._open("GET", address, "/api/v1/info")
        supported = data.get("supportedAuth") or []
        version = str(data.get("version") or "")
        if supported:
            auth = "v2" if "v2" in supported else "v1"
        else:
            auth = "v1" if version_tuple(version)[:4] == (4, 2, 2, 0) else "v2"
        info = AgentInfo(
            version=version,
            identity=str(data.get("identity") or ""),
            auth=auth,
            security=bool(data.get("security")),
            start_at=data.get("startAt"),
            pid=data.get("pid"),
            raw=data,
        )
        previous = self._info.get(address)
        if previous and (previous.start_at, previous.pid) != (info.start_at, info.pid):
            self._keys.pop(address, None)  # restarted: the key may have changed (client §2)
        self._info[address] = info
        return info

    def connect(self):
        """`/info` and `/secret` on the first address that answers, which becomes the current one (issue 12: extra
        addresses are for when the first agent's zone is being restarted)."""
        last: AgentError | None = None
        for address in self.addresses:
            try:
                info = self.info(address)
                self.public_key(address)
            except AgentUnreachable as error:
                last = error
                continue
            self.current = address
            return info
        assert last is not None
        raise AgentUnreachable(f"no agent answered at {', '.join(self.addresses)}")

    def status(self, address=None):
        return self._open("GET", address or self.current, "/api/v1/status")

    def public_key(self, address=None):
        """The key the agent publishes now, checked against the pinned one."""
        address = address or self.current
        published = str(self._open("GET", address, "/api/v1/secret").get("public_key") or "")
        pinned = self.pinned_keys.get(address)
        if pinned and pinned != published:
            raise AgentKeyChanged(address, pinned, published)
        self._keys[address] = (published, load_agent_public_key(published))
        return published

    def learned_key(self, address):
        """The base64 key this client learned from the agent at `address` (after `connect` or a call)."""
        return self._keys[address][0]

    def pin(self, address, key_b64):
        self.pinned_keys[address] = key_b64
        self._keys.pop(address, None)

    # -- authenticated routes -----------------------------------------------------------------------------------

    def get(self, path, *, timeout=SHORT_TIMEOUT, fallback=True):
        """A read: the current address first, then the others on the failures client §4.3 lists."""
        return self._each_address(lambda address: self._call(address, "GET", path, None, timeout), fallback)

    def post(self, path, payload=None, *, timeout=LONG_TIMEOUT):
        """A write, sent to one agent whose observer is available (obState 3); no resend on an answer."""
        return self._each_address(lambda address: self._call(address, "POST", path, payload, timeout), True, write=True)

    def delete(self, path, *, timeout=SHORT_TIMEOUT):
        return self._each_address(lambda address: self._call(address, "DELETE", path, None, timeout), True, write=True)

    def upload(self, file_path, *, timeout=LONG_TIMEOUT, progress=None):
        """`POST /api/v1/upgrade/package` streamed from disk: the encrypted multipart body is produced chunk by
        chunk (memory stays at about one chunk) and its length is sent up front, as the SDK's request has it."""
        boundary = uuid.uuid4().hex
        name = os.path.basename(file_path)
        head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n\r\n'.encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        size = os.path.getsize(file_path)

        def send(address):
            info = self._info.get(address) or self.info(address)
            old = version_tuple(info.version) < (4, 2, 6)
            with open(file_path, "rb") as handle:
                source = _Concatenated([head, _Counting(handle, progress) if progress else handle, tail])
                return self._call(
                    address,
                    "POST",
                    "/api/v1/upgrade/package",
                    None,
                    timeout,
                    stream=(source, len(head) + size + len(tail)),
                    content_type=f"multipart/form-data; boundary={boundary}",
                    lifetime=UPLOAD_HEADER_LIFETIME_BEFORE_4_2_6 if old else HEADER_LIFETIME,
                )

        return self._each_address(send, True, write=True)

    # -- machinery ----------------------------------------------------------------------------------------------

    def _each_address(self, attempt, fallback, write=False):
        order = [self.current] + [a for a in self.addresses if a != self.current]
        last: AgentError | None = None
        for address in order if fallback else order[:1]:
            try:
                if write and len(self.addresses) > 1 and self.status(address).get("obState") != 3:
                    last = AgentRefused(500, "OB.Server.Process.NotExist", "observer not available", None, address)
                    continue
                result = attempt(address)
            except AgentUnreachable as error:
                last = error
                continue
            except AgentRefused as error:
                if isinstance(error, CredentialsRejected) or not error.observer_down:
                    raise
                last = error
                continue
            self.current = address
            return result
        assert last is not None
        raise last

    def _call(
        self, address, method, path, payload, timeout, *, stream=None, content_type=None, lifetime=HEADER_LIFETIME
    ):
        info = self._info.get(address) or self.info(address)
        for attempt in (1, 2):
            if address not in self._keys:
                self.public_key(address)
            headers, body = self._sign(address, info, path, payload, stream, content_type, lifetime)
            try:
                return self._send(method, address, path, headers=headers, body=body, timeout=timeout)
            except AgentRefused as error:
                if attempt == 1 and error.key_stale:
                    # A restart we did not see re-keyed it (client §2): learn the key again (pinning checked) and
                    # resend once. A stream cannot be resent: its source is spent.
                    self._keys.pop(address, None)
                    info = self.info(address)
                    if stream is None:
                        continue
                    self.public_key(address)
                raise
        raise AssertionError("unreachable")

    def _sign(self, address, info, path, payload, stream, content_type, lifetime):
        _, key = self._keys[address]
        expires = int(time.time()) + lifetime
        headers = {}
        if content_type:
            headers["Content-Type"] = content_type
        if info.auth == "v1":
            # Spec §2.3: one RSA block of {"password", "ts"} (an int), and the body in clear.
            token = json.dumps({"password": self.password, "ts": expires}).encode()
            headers["X-OCS-Auth"] = rsa_encrypt_chunks(key, token, chunk=len(token))
            plain = json.dumps(payload).encode() if payload is not None else b""
            return headers, (stream[0] if stream else plain)
        keys = secrets.token_bytes(32)
        use_agent_header = bool(self.agent_password) and info.security
        document = {
            "auth": self.agent_password if use_agent_header else self.password,
            "ts": str(expires),
            "uri": path,
            "keys": base64.b64encode(keys).decode(),
        }
        name = "X-OCS-Agent-Header" if use_agent_header else "X-OCS-Header"
        headers[name] = rsa_encrypt_chunks(key, json.dumps(document).encode())
        if stream is not None:
            source, length = stream
            reader = AesEncryptingReader(source, length, keys)
            headers["Content-Length"] = str(aes_encrypted_length(length))
            return headers, _Streamed(reader, len(reader))
        body = aes_encrypt(json.dumps(payload).encode(), keys) if payload is not None else None
        return headers, body

    def _send(self, method, address, path, *, headers, body, timeout):
        url = f"http://{address}{path}"
        try:
            response = self.session.request(
                method, url, headers=headers, data=body, timeout=(CONNECT_TIMEOUT, timeout), allow_redirects=False
            )
        except (requests.ConnectionError, requests.Timeout) as error:
            raise AgentUnreachable(f"{address}: {error.__class__.__name__}") from None
        try:
            document = response.json()
        except ValueError:
            raise AgentRefused(
                response.status_code, "Common.Unexpected", "the answer is not obshell's JSON envelope", None, address
            ) from None
        if response.status_code >= 400 or (isinstance(document, dict) and document.get("error")):
            raise _refusal(response.status_code, document, address)
        return document.get("data") if isinstance(document, dict) else None


class _Counting:
    """A file read through, reporting the bytes read so far to `progress` (at most about once a second)."""

    def __init__(self, handle, progress):
        self._handle, self._progress = handle, progress
        self._read = 0
        self._reported = 0.0

    def read(self, size=-1):
        chunk = self._handle.read(size)
        self._read += len(chunk)
        now = time.monotonic()
        if not chunk or now - self._reported >= 1.0:
            self._reported = now
            self._progress(self._read)
        return chunk

    def readinto(self, buffer):
        count = self._handle.readinto(buffer)
        self._read += count
        now = time.monotonic()
        if not count or now - self._reported >= 1.0:
            self._reported = now
            self._progress(self._read)
        return count


class _Streamed:
    """A body requests sends chunk by chunk as it iterates (one socket write per ~1 MiB chunk rather than a read
    loop of 16 KiB), with its length up front: it deliberately has no `read`."""

    def __init__(self, chunks, length):
        self._chunks, self._length = chunks, length

    def __iter__(self):
        return iter(self._chunks)

    def __len__(self):
        return self._length


class _Concatenated:
    """One file-like view over byte strings and open files, read in order."""

    def __init__(self, parts):
        self._parts = list(parts)

    def read(self, size=-1):
        out = b""
        while self._parts and (size < 0 or len(out) < size):
            part = self._parts[0]
            if isinstance(part, bytes):
                take = part if size < 0 else part[: size - len(out)]
                out += take
                rest = part[len(take) :]
                if rest:
                    self._parts[0] = rest
                else:
                    self._parts.pop(0)
            else:
                chunk = part.read(-1 if size < 0 else size - len(out))
                if chunk:
                    out += chunk
                else:
                    self._parts.pop(0)
        return out

    def readinto(self, buffer):
        """Fill `buffer` from the current part (files straight into it, no intermediate bytes); 0 at the end."""
        while self._parts:
            part = self._parts[0]
            if isinstance(part, bytes):
                count = min(len(part), len(buffer))
                buffer[:count] = part[:count]
                if count < len(part):
                    self._parts[0] = part[count:]
                else:
                    self._parts.pop(0)
                return count
            count = part.readinto(buffer)
            if count:
                return count
            self._parts.pop(0)
        return 0
