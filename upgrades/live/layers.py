"""The embedded profile's channel layer: InMemoryChannelLayer with a fan-out that scales to a thousand sockets.

The stock layer scans every channel for expired messages on each send and receive (quadratic in the number
of sockets: 1,000 sockets watching one DAG spent seconds per event there) and deep-copies a group message
once per member. This one scans at most once per `clean_interval` and copies a group message once for the
whole group; consumers treat received messages as read-only (ours build new dicts to send).
"""

import asyncio
import contextlib
import time
from copy import deepcopy

from channels.layers import InMemoryChannelLayer


class LiveInMemoryChannelLayer(InMemoryChannelLayer):
    clean_interval = 1.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._last_clean = 0.0

    def _clean_expired(self):
        now = time.monotonic()
        if now - self._last_clean < self.clean_interval:
            return
        self._last_clean = now
        super()._clean_expired()

    async def group_send(self, group, message):
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        shared = (time.time() + self.expiry, deepcopy(message))
        for channel in list(self.groups.get(group, {})):
            queue = self.channels.setdefault(channel, asyncio.Queue(maxsize=self.get_capacity(channel)))
            # At most once, like every layer: a consumer heals a gap from the database.
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(shared)
