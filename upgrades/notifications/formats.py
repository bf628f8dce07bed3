"""What each format sends for one notification, and how it is signed.

A notification (outbox.notification) is a plain dict: event, summary, url (the run page), dag, cluster, at,
and per event failed_node + log_tail (failed) or stalled (stalled). Bodies are built once, when the delivery is
queued, and stored; what depends on the time of sending (DingTalk's and Feishu's signatures) is added per
attempt, and the stored body is then the exact bytes sent.

- generic: the notification as JSON, POSTed with `X-OB-Dashboard-Signature: sha256=<hex HMAC-SHA256 of the
  exact body under the subscription's secret>`, plus `X-OB-Dashboard-Event` and `X-OB-Dashboard-Delivery`
  (a stable id: a receiver that saw it already may drop a repeat).
- slack: an incoming-webhook message (`text` plus mrkdwn blocks). Incoming webhooks have no signing: the
  URL is the credential, which is why targets are encrypted at rest and shown redacted.
- dingtalk: a custom robot's markdown message. With a secret ("加签"), the documented signature: the
  timestamp in milliseconds, string_to_sign = timestamp + "\\n" + secret, HMAC-SHA256 keyed by the secret,
  base64, URL-encoded, sent as the `timestamp` and `sign` query parameters. Success is errcode 0.
- feishu: a custom bot's post message. With a secret, the documented signature: the timestamp in seconds,
  timestamp + "\\n" + secret is the HMAC-SHA256 KEY over an empty message, base64, sent as `timestamp` and
  `sign` in the JSON body. Success is code (or StatusCode) 0.
- email: a plain-text mail through Django's email backend (EMAIL_* settings).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit, urlunsplit

SIGNATURE_HEADER = "X-OB-Dashboard-Signature"
EVENT_HEADER = "X-OB-Dashboard-Event"
DELIVERY_HEADER = "X-OB-Dashboard-Delivery"
USER_AGENT = "ob-upgrade-dashboard-notifier/1"

FORMATS_WITH_SECRET = {"generic", "dingtalk", "feishu"}
SECRET_REQUIRED = {"generic"}


@dataclass
class Request:
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def generic_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's robot signature (base64, not yet URL-encoded)."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode()
    return base64.b64encode(hmac.new(secret.encode(), string_to_sign, hashlib.sha256).digest()).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu's bot signature: timestamp + "\\n" + secret is the key, the message is empty."""
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def _dumps(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=False).encode()


def _text_lines(note: dict) -> list[str]:
    lines = [note["summary"]]
    dag = note.get("dag") or {}
    if dag:
        lines.append(
            f"Cluster {note.get('cluster', '')}, run {dag.get('id', '')} (obshell generic id {dag.get('generic_id', '')},"
            f" {dag.get('name', '')})"
        )
    failed = note.get("failed_node")
    if failed:
        lines.append(f"Failed stage: {failed.get('seq', '')}. {failed.get('name', '')}")
    stalled = note.get("stalled")
    if stalled:
        lines.append(stalled_line(stalled))
    return lines


def stalled_line(stalled: dict) -> str:
    running = stalled.get("running_seconds")
    usual = stalled.get("median_seconds")
    text = f"Stage “{stalled.get('node_name', '')}” has run {_seconds(running)}"
    if usual is not None:
        text += f", usually {_seconds(usual)} (p90 {_seconds(stalled.get('p90_seconds'))})"
    return text


def _seconds(value: object) -> str:
    try:
        return f"{float(value):.0f} s"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "?"


def body_for(format: str, note: dict) -> str:
    """The stored body of a delivery (text): JSON for webhooks, the mail's text for email."""
    lines = _text_lines(note)
    link = note["url"]
    tail = note.get("log_tail") or []
    if format == "generic":
        return _dumps(note).decode()
    if format == "slack":
        text = "\n".join([*lines, f"<{link}|Open the run>"])
        blocks: list[dict] = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
        if tail:
            blocks.append(
                {"type": "section", "text": {"type": "mrkdwn", "text": "```" + "\n".join(tail)[-2800:] + "```"}}
            )
        return _dumps({"text": note["summary"], "blocks": blocks}).decode()
    if format == "dingtalk":
        text = "\n\n".join([f"### {lines[0]}", *lines[1:]])
        if tail:
            text += "\n\n" + "\n".join(f"> {line}" for line in tail)
        text += f"\n\n[Open the run]({link})"
        return _dumps({"msgtype": "markdown", "markdown": {"title": note["summary"][:100], "text": text}}).decode()
    if format == "feishu":
        content = [[{"tag": "text", "text": line}] for line in lines[1:]]
        content += [[{"tag": "text", "text": line}] for line in tail]
        content.append([{"tag": "a", "text": "Open the run", "href": link}])
        post = {"zh_cn": {"title": lines[0], "content": content}}
        return _dumps({"msg_type": "post", "content": {"post": post}}).decode()
    if format == "email":
        text = "\n".join(lines) + "\n\n" + f"Open the run: {link}\n"
        if tail:
            text += "\nLast log lines:\n" + "\n".join(f"  {line}" for line in tail) + "\n"
        return text
    raise ValueError(f"unknown format {format!r}")


def email_subject(note: dict) -> str:
    return f"[OB Upgrade Dashboard] {note['summary']}"[:200]


def webhook_request(
    format: str, *, url: str, body: str, secret: str, event: str, delivery_id: str, now=None
) -> Request:
    """The exact request for one attempt: the signature over the body, or the platform's own signing."""
    now = time.time() if now is None else now
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT}
    data = body.encode()
    if format == "generic":
        headers[EVENT_HEADER] = event
        headers[DELIVERY_HEADER] = delivery_id
        headers[SIGNATURE_HEADER] = generic_signature(secret, data)
    elif format == "dingtalk" and secret:
        timestamp = int(now * 1000)
        url = _with_query(url, {"timestamp": str(timestamp), "sign": dingtalk_sign(secret, timestamp)})
    elif format == "feishu" and secret:
        timestamp = int(now)
        document = json.loads(body)
        document = {"timestamp": str(timestamp), "sign": feishu_sign(secret, timestamp), **document}
        data = _dumps(document)
    return Request(url=url, body=data, headers=headers)


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parts.query + ("&" if parts.query else "") + urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def answer_problem(format: str, status: int, body: bytes) -> str:
    """Why an answer is not a success ("" when it is): 2xx, and for the robots their own code 0."""
    if not 200 <= status < 300:
        return f"HTTP {status}"
    if format not in ("dingtalk", "feishu"):
        return ""
    try:
        document = json.loads(body.decode("utf-8", "replace") or "{}")
    except ValueError:
        return ""
    if not isinstance(document, dict):
        return ""
    if format == "dingtalk":
        code = document.get("errcode", 0)
        return "" if code in (0, None) else f"DingTalk errcode {code}: {str(document.get('errmsg', ''))[:200]}"
    code = document.get("code", document.get("StatusCode", 0))
    message = document.get("msg", document.get("StatusMessage", ""))
    return "" if code in (0, None) else f"Feishu code {code}: {str(message)[:200]}"
