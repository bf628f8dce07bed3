// The run's websocket (ws/dags/<id>/, through static/js/live_socket.js): connects with ?after_seq so a
// reconnect replays only the missed events, shows the connection state (live, reconnecting, stale since
// hh:mm), and carries the page's requests (resume, log lines).

import { fmt, gettext, zonedClock } from "../i18n.js";
import { liveSocket, socketUrl } from "../live_socket.js";
import { heartbeatMs, role, urls } from "./page.js";
import { logStore, state } from "./store.js";

let live = null;

function setConnection(kind, text) {
  const badgeEl = role("connection");
  badgeEl.dataset.conn = kind;
  badgeEl.textContent = text;
}

// onOpen(): connected (the server answers with a replay or a snapshot). onFrame(frame): every frame.
export function connect({ onOpen, onFrame }) {
  live = liveSocket({
    url: () => socketUrl(`${urls.socket}?after_seq=${state.seq}`),
    onOpen: () => {
      onOpen();
      setConnection("live", `● ${gettext("Live")}`);
    },
    onMessage: onFrame,
    onDown: ({ attempt, staleSince }) => {
      const since = zonedClock(staleSince, false);
      setConnection(attempt > 2 ? "stale" : "reconnecting",
        fmt(attempt > 2 ? gettext("Stale since %(since)s · reconnecting") : gettext("Reconnecting… (stale since %(since)s)"), { since }));
    },
    onRefused: ({ text }) => setConnection("stale", fmt(gettext("Stopped · %(why)s"), { why: text })),
    heartbeatMs,
  });
}

export function isOpen() {
  return live !== null && live.isOpen();
}

export function send(message) {
  return live !== null && live.send(message);
}

export function requestLogs(taskId, bounds) {
  const store = logStore(taskId);
  if (!isOpen()) return;
  store.pending = true;
  send({ type: "logs", sub_task_id: taskId, ...bounds });
}
