"""Logs as JSON lines (LOG_FORMAT=json) with the context of the work that wrote them.

One object per line: {"time", "level", "logger", "message", "process", "thread"} plus, where they exist,
"trace_id" (a request's: its X-OBSHELL-Trace-ID when it sends a valid one, else one made for it, the same the
API envelope answers as traceId), the DAG / node / sub-task a worker runs and the worker ("worker"), the
periodic job ("job"), fields passed with `extra=`, and "exc_info" (the traceback) for an exception.

A small formatter of our own rather than python-json-logger: the fields are few and fixed, the context comes
from a contextvar this module owns, and the scrubbing below must run on every line; the library would bring
a dependency for the ten lines of json.dumps it would replace.

Secrets never reach a line: `extra=` fields whose name says secret (password, secret, token, key,
authorization, cookie, header) are written as "[redacted]", and the message and traceback are scrubbed of
what the server itself may log with a secret in it: a sign-in link's path (access and 404 lines), bearer and
X-OCS-* header values, and password/secret/token query parameters.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

_EMPTY: Mapping[str, Any] = MappingProxyType({})
_context: ContextVar[Mapping[str, Any]] = ContextVar("obdash_log_context", default=_EMPTY)

REDACTED = "[redacted]"
# What the API accepts as a client's trace id (upgrades/api/envelope.py answers it as traceId).
TRACE_ID_RE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_TRACE_HEADER_ASGI = b"x-obshell-trace-id"
_TRACE_HEADER_WSGI = "HTTP_X_OBSHELL_TRACE_ID"

_SECRET_NAME = re.compile(r"pass|secret|token|key|auth|cookie|header|credential", re.I)
_SCRUB = (
    (re.compile(r"(/login/link/)[^/\s\"?]+"), r"\1" + REDACTED),
    (re.compile(r"(?i)(bearer\s+)[^\s\"',]+"), r"\1" + REDACTED),
    (re.compile(r"(?i)(x-ocs-(?:header|auth)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"), r"\1" + REDACTED),
    (re.compile(r"(?i)([?&](?:password|secret|token|key)=)[^&\s\"']+"), r"\1" + REDACTED),
)

# LogRecord's own attributes: anything else on a record came from `extra=`.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def scrub(text: str) -> str:
    for pattern, replacement in _SCRUB:
        text = pattern.sub(replacement, text)
    return text


def current() -> Mapping[str, Any]:
    """The fields bound to the work running now."""
    return _context.get()


def bind(**fields: Any) -> Token[Mapping[str, Any]]:
    """Add fields to the current context; returns the token that restores the previous one."""
    return _context.set({**_context.get(), **{k: v for k, v in fields.items() if v is not None}})


def reset(token: Token[Mapping[str, Any]]) -> None:
    _context.reset(token)


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Every line logged inside the block carries these fields (e.g. dag_id, sub_task_id, job)."""
    token = bind(**fields)
    try:
        yield
    finally:
        reset(token)


def current_trace_id() -> str:
    return str(_context.get().get("trace_id", ""))


def request_trace_id(*, environ: Mapping[str, Any] | None = None, scope: Mapping[str, Any] | None = None) -> str:
    """A request's trace id: its X-OBSHELL-Trace-ID when valid, else a new one (as the API envelope does)."""
    sent: Any = None
    if scope is not None:
        for name, value in scope.get("headers") or ():
            if name.lower() == _TRACE_HEADER_ASGI:
                sent = value.decode("latin-1")
    elif environ is not None:
        sent = environ.get(_TRACE_HEADER_WSGI)
    if isinstance(sent, str) and TRACE_ID_RE.fullmatch(sent):
        return sent
    return secrets.token_hex(8)


def on_request_started(sender: object, environ: Any = None, scope: Any = None, **kwargs: Any) -> None:
    """request_started: each request's lines carry its trace id (a fresh context, nothing of the last one)."""
    _context.set({"trace_id": request_trace_id(environ=environ, scope=scope)})


def on_request_finished(sender: object, **kwargs: Any) -> None:
    _context.set(_EMPTY)


def _safe(name: str, value: Any) -> Any:
    if _SECRET_NAME.search(name):
        return REDACTED
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return scrub(str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object per line (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": scrub(record.getMessage()),
            "process": record.process,
            "thread": record.threadName,
        }
        for name, value in _context.get().items():
            entry[name] = _safe(name, value) if name != "trace_id" else value
        for name, value in vars(record).items():
            if name not in _RECORD_FIELDS and not name.startswith("_") and name not in entry:
                entry[name] = _safe(name, value)
        if record.exc_info:
            entry["exc_info"] = scrub(self.formatException(record.exc_info))
        if record.stack_info:
            entry["stack_info"] = scrub(self.formatStack(record.stack_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


class ScrubFilter(logging.Filter):
    """On the console handler in both formats: the message as written, scrubbed of secrets (see scrub())."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def with_trace_ids(app: Any) -> Any:
    """ASGI: every line logged while a request (or a websocket) is served carries its trace id. Bound here, in
    the task that serves it, because Django sends request_started from a task of its own under ASGI, whose
    context the request never sees (on_request_started does the job under WSGI and the test client)."""

    async def application(scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") not in ("http", "websocket"):
            await app(scope, receive, send)
            return
        token = _context.set({"trace_id": request_trace_id(scope=scope)})
        try:
            await app(scope, receive, send)
        finally:
            _context.reset(token)

    return application
