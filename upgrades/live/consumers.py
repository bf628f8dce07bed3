"""Websocket consumers: one DAG's event stream (`ws/dags/<id>/`) and the fleet feed (`ws/feed/`).

Access (upgrades/live/access.py): a socket needs a signed-in user with the viewer role. A refused socket is
accepted and closed at once with 4401 (not signed in) or 4403 (no role): a handshake refused outright reaches
the browser as a bare 1006, which would not stop the page reconnecting. Every heartbeat re-reads the session
from the store and the user's role, and closes an open socket the same way when either is gone. Cross-origin
handshakes are refused before any of this by upgrades/live/origins.py (scheme, host and port).

Messages from the client are limited to settings.LIVE_MAX_MESSAGES_PER_MINUTE per socket (sliding minute).
Past the limit the socket is closed with 4429 rather than answered with error frames: an error frame still
costs a parse per message and keeps the flooding socket, a close costs the client a new handshake (with the
session and origin checks) and the page's reconnect backoff. The pages send far fewer (a resume per
reconnect, a log page per click or scroll).
"""

import asyncio
import collections
import contextlib
import random
import time

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.utils import timezone

from upgrades.live import access, selectors
from upgrades.live.publish import FEED_GROUP, dag_group, remember_server_loop
from upgrades.models import Dag, DagEvent
from upgrades.operations.metrics import WEBSOCKET_CONNECTIONS
from upgrades.snapshots import dag_payload

DEFAULT_HEARTBEAT_SECONDS = 20.0
DEFAULT_MAX_MESSAGES_PER_MINUTE = 120
LAYER_EVENT_TYPES = frozenset({"dag.event", "feed.event", "feed.campaign"})


def _now():
    return timezone.now().isoformat()


class _LiveConsumer(AsyncJsonWebsocketConsumer):
    # None: settings.LIVE_HEARTBEAT_SECONDS, else 20 s (proxies close sockets idle for longer, e.g. 60 s).
    heartbeat_seconds = None

    async def dispatch(self, message):
        # Channels closes stale DB connections (a thread hop) before every handler; a pushed event needs no
        # database on its normal path, and its gap fill goes through database_sync_to_async, which does that
        # itself. With a thousand sockets on one DAG, the hop per socket per event was most of the latency.
        if message["type"] in LAYER_EVENT_TYPES:
            await getattr(self, get_handler_name(message))(message)
        else:
            await super().dispatch(message)

    def live_groups(self):
        raise NotImplementedError

    @property
    def heartbeat_interval(self):
        if self.heartbeat_seconds is not None:
            return self.heartbeat_seconds
        return float(getattr(settings, "LIVE_HEARTBEAT_SECONDS", DEFAULT_HEARTBEAT_SECONDS))

    @property
    def max_messages_per_minute(self):
        return int(getattr(settings, "LIVE_MAX_MESSAGES_PER_MINUTE", DEFAULT_MAX_MESSAGES_PER_MINUTE))

    async def refused(self):
        """True (and the socket closed with 4401 or 4403) unless the scope's user may watch."""
        code = await database_sync_to_async(access.refusal)(self.scope.get("user"))
        if code is None:
            return False
        await self.accept()
        await self.close(code=code)
        return True

    async def still_allowed(self):
        """Re-checks the session as it is now; closes the socket (4401/4403) and returns False if it ended."""
        key = access.session_key(self.scope)
        code = await database_sync_to_async(access.current_refusal, thread_sensitive=False)(key)
        if code is None:
            return True
        self._closing = True
        await self.close(code=code)
        return False

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if getattr(self, "_closing", False):
            return
        now = time.monotonic()
        recent = getattr(self, "_received", None)
        if recent is None:
            recent = self._received = collections.deque(maxlen=max(1, self.max_messages_per_minute))
        if len(recent) == recent.maxlen and now - recent[0] < 60:
            self._closing = True
            await self.close(code=access.CLOSE_TOO_MANY_MESSAGES)
            return
        recent.append(now)
        try:
            content = await self.decode_json(text_data) if text_data is not None else None
        except (ValueError, RecursionError):
            content = None
        if content is None:
            await self.send_json({"type": "error", "message": "messages are JSON text frames"})
            return
        await self.receive_json(content, **kwargs)

    async def join_groups(self):
        for group in self.live_groups():
            await self.channel_layer.group_add(group, self.channel_name)

    async def start_heartbeat(self):
        self._heartbeat_task = asyncio.create_task(self._heartbeat_loop())

    async def _heartbeat_loop(self):
        # Sockets that connected together must not all hit the database in the same instant.
        await asyncio.sleep(self.heartbeat_interval * random.uniform(0.5, 1.0))
        while True:
            if not await self.still_allowed():
                return
            # Re-joining is idempotent and heals a layer that lost its groups (e.g. a Redis restart).
            with contextlib.suppress(Exception):
                await self.join_groups()
            await self.heartbeat()
            await asyncio.sleep(self.heartbeat_interval)

    async def heartbeat(self):
        raise NotImplementedError

    async def disconnect(self, code):
        if getattr(self, "_counted", False):
            self._counted = False
            WEBSOCKET_CONNECTIONS.dec()
        task = getattr(self, "_heartbeat_task", None)
        if task is not None:
            task.cancel()
        if getattr(self, "_joined", False):
            for group in self.live_groups():
                with contextlib.suppress(Exception):
                    await self.channel_layer.group_discard(group, self.channel_name)


class DagConsumer(_LiveConsumer):
    """`ws/dags/<id>/` (id is Dag.pk). Server to client frames, all JSON objects with a "type":

    - "snapshot": {seq, dag_id, dag, nodes, sub_tasks, logs, logs_complete, actions, stalls}: the state as of
      `seq` (upgrades.snapshots shapes; `logs` holds the last 200 lines of each running or failed sub-task,
      `logs_complete[sub_task_id]` says whether that is all of them; `stalls` the node.stalled payloads of
      stages stalled now). Sent on connect, and on a resume whose
      gap is over `resume_max_events`.
    - "event": {seq, dag_id, kind, at, payload[, actions]}: one committed DagEvent; seq is gapless per DAG,
      and this consumer sends them strictly in order (a gap in what the layer delivers is filled from the DB).
    - "replay": {after_seq, seq, events: [event...]}: the answer to a resume, events after_seq+1..seq.
    - "actions": {seq, actions}: the operator buttons allowed now (after a replay or a heartbeat).
    - "heartbeat": {seq, at}: the DAG's latest committed seq from the database.
    - "logs": {sub_task_id, before_id, after_id, lines, more}: a page of log lines (all attempts).
    - "error": {message}.
    Client to server: {"type": "resume", "after_seq": K}; {"type": "logs", "sub_task_id": N, "before_id": X}
    or {..., "after_id": X}. A client reconnecting may also pass `?after_seq=K` in the URL to get a replay
    instead of a snapshot.
    """

    resume_max_events = 10_000

    def live_groups(self):
        return [dag_group(self.dag_id)]

    async def connect(self):
        if await self.refused():
            return
        self.dag_id = int(self.scope["url_route"]["kwargs"]["dag_id"])
        self.seq = 0
        self._lock = asyncio.Lock()
        self._advanced = asyncio.Event()
        remember_server_loop()
        # Join before reading: whatever commits while the snapshot is read arrives afterwards and is dropped
        # by seq, so nothing is lost and nothing is sent twice.
        await self.join_groups()
        self._joined = True
        async with self._lock:
            latest = await database_sync_to_async(selectors.latest_seq)(self.dag_id)
            if latest is None:
                await self.close()
                return
            await self.accept()
            self._counted = True
            WEBSOCKET_CONNECTIONS.inc()
            after_seq = self._query_after_seq()
            if after_seq is not None and 0 <= after_seq <= latest and latest - after_seq <= self.resume_max_events:
                await self._send_replay(after_seq)
            else:
                await self._send_snapshot()
        await self.start_heartbeat()

    def _query_after_seq(self):
        query = self.scope.get("query_string", b"").decode()
        for part in query.split("&"):
            name, _, value = part.partition("=")
            if name == "after_seq" and value.isdigit():
                return int(value)
        return None

    async def receive_json(self, content, **kwargs):
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "resume":
            await self._resume(content.get("after_seq"))
        elif kind == "logs":
            await self._send_logs(content)
        else:
            await self.send_json({"type": "error", "message": f"unknown message type {kind!r}"})

    async def dag_event(self, message):
        async with self._lock:
            seq = message["seq"]
            if seq <= self.seq:
                return
            if seq > self.seq + 1:
                await self._fill_gap(seq - 1)
                if seq <= self.seq:  # the gap was too large and a fresh snapshot already covers this event
                    return
            frame = message.get("frame")
            if frame is not None:
                await self.send(text_data=frame)  # encoded once by the publisher for every socket
            else:
                await self.send_json(
                    {key: value for key, value in message.items() if key != "frame"} | {"type": "event"}
                )
            self.seq = seq
            self._advanced.set()

    async def heartbeat(self):
        # A read-only query off the shared database thread, so a thousand sockets' heartbeats run in parallel.
        latest = await database_sync_to_async(selectors.latest_seq, thread_sensitive=False)(self.dag_id)
        if latest is None:
            await self.close()
            return
        # Events committed before the read may still be on their way through the layer; give them a moment
        # before treating the difference as lost and reading it from the database.
        deadline = asyncio.get_running_loop().time() + min(2.0, self.heartbeat_interval / 2)
        while self.seq < latest and (remaining := deadline - asyncio.get_running_loop().time()) > 0:
            self._advanced.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._advanced.wait(), remaining)
        async with self._lock:
            if latest > self.seq:
                await self._fill_gap(latest)
                await self._send_actions()
            # Everything up to `latest` has been sent before this frame, so a client behind it lost frames.
            await self.send_json({"type": "heartbeat", "seq": max(latest, self.seq), "at": _now()})

    async def _resume(self, after_seq):
        if not isinstance(after_seq, int) or isinstance(after_seq, bool):
            await self.send_json({"type": "error", "message": "resume needs an integer after_seq"})
            return
        async with self._lock:
            latest = await database_sync_to_async(selectors.latest_seq)(self.dag_id)
            if latest is None:
                await self.close()
            elif after_seq < 0 or after_seq > latest or latest - after_seq > self.resume_max_events:
                await self._send_snapshot()
            else:
                await self._send_replay(after_seq)

    async def _send_snapshot(self):
        snapshot = await database_sync_to_async(selectors.dag_snapshot)(self.dag_id)
        if snapshot is None:
            await self.close()
            return
        await self.send_json(snapshot)
        self.seq = snapshot["seq"]

    async def _send_replay(self, after_seq):
        frames = await database_sync_to_async(selectors.event_frames)(self.dag_id, after_seq)
        seq = frames[-1][0] if frames else after_seq
        events = ", ".join(text for _, text in frames)
        await self.send(text_data=f'{{"type": "replay", "after_seq": {after_seq}, "seq": {seq}, "events": [{events}]}}')
        self.seq = max(seq, after_seq)
        await self._send_actions()

    async def _fill_gap(self, up_to):
        if up_to - self.seq > self.resume_max_events:
            await self._send_snapshot()
            return
        frames = await database_sync_to_async(selectors.event_frames)(self.dag_id, self.seq, up_to=up_to)
        for seq, text in frames:
            await self.send(text_data=text)
            self.seq = seq

    async def _send_actions(self):
        actions = await database_sync_to_async(selectors.dag_actions)(self.dag_id)
        await self.send_json({"type": "actions", "seq": self.seq, "actions": actions})

    async def _send_logs(self, content):
        sub_task_id = content.get("sub_task_id")
        before_id, after_id = content.get("before_id"), content.get("after_id")
        if not all(isinstance(v, int) or v is None for v in (sub_task_id, before_id, after_id)) or sub_task_id is None:
            await self.send_json({"type": "error", "message": "logs needs an integer sub_task_id"})
            return
        page = await database_sync_to_async(selectors.log_page)(
            dag_id=self.dag_id, sub_task_id=sub_task_id, before_id=before_id, after_id=after_id
        )
        if page is None:
            await self.send_json({"type": "error", "message": f"sub-task {sub_task_id} is not in this DAG"})
            return
        await self.send_json(
            {"type": "logs", "sub_task_id": sub_task_id, "before_id": before_id, "after_id": after_id, **page}
        )


def _unfinished_dags():
    return [dag_payload(dag) for dag in Dag.objects.filter(is_finished=False).select_related("cluster")]


class FeedConsumer(_LiveConsumer):
    """`ws/feed/`: fleet-wide DAG changes for lists and counters. Server to client frames:

    - "hello": {dags: [dag_payload...]}: every unfinished DAG (running, ready or failed) on connect.
    - "dag": {kind: "dag.created" | "dag.updated", dag_id, seq, at, dag: dag_payload}: a DAG was created or
      changed state (a finished one has dag.is_finished true; dag.state says SUCCEED or FAILED).
      dag_payload (upgrades/snapshots.py) carries id, generic_id, cluster, kind, name, state, operator, stage,
      max_stage, is_finished, holds_lock, mode, from_version, to_version, route, actor, reason, created_at,
      start_time, end_time. Delivery is at most once: treat it as a hint and reconcile on "hello".
    - "campaign": {kind: "campaign.updated", campaign_id, state, at}: a fleet campaign changed (its state, a wave,
      a cluster's cell); its page re-reads itself.
    - "stall": {kind: "node.stalled", dag_id, seq, at, stall}: a running stage passed twice its usual duration
      (`stall` is the node.stalled payload, upgrades/engine/stalls.py).
    - "heartbeat": {at}.
    """

    def live_groups(self):
        return [FEED_GROUP]

    async def connect(self):
        if await self.refused():
            return
        remember_server_loop()
        await self.join_groups()
        self._joined = True
        await self.accept()
        self._counted = True
        WEBSOCKET_CONNECTIONS.inc()
        dags = await database_sync_to_async(_unfinished_dags)()
        await self.send_json({"type": "hello", "dags": dags})
        await self.start_heartbeat()

    async def receive_json(self, content, **kwargs):
        await self.send_json({"type": "error", "message": "the feed takes no messages"})

    async def feed_event(self, message):
        if message["kind"] == DagEvent.Kind.NODE_STALLED:
            await self.send_json(
                {
                    "type": "stall",
                    "kind": message["kind"],
                    "dag_id": message["dag_id"],
                    "seq": message["seq"],
                    "at": message["at"],
                    "stall": message["payload"],
                }
            )
            return
        await self.send_json(
            {
                "type": "dag",
                "kind": message["kind"],
                "dag_id": message["dag_id"],
                "seq": message["seq"],
                "at": message["at"],
                "dag": message["payload"].get("dag"),
            }
        )

    async def feed_campaign(self, message):
        await self.send_json({key: value for key, value in message.items() if key != "type"} | {"type": "campaign"})

    async def heartbeat(self):
        await self.send_json({"type": "heartbeat", "at": _now()})
