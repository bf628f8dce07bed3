// One websocket that stays up: reconnects with backoff after any close but a refusal (4401, 4403), remembers since when the page has
// been stale, optionally closes a half-dead socket (no frame for 2.5 heartbeats, e.g. a proxy dropped it),
// and stops for good when the page goes away. Used by the run page (static/js/run/socket.js) and by the
// fleet feed (static/js/feed.js). No dependencies, no build step.

import { gettext } from "./i18n.js";

const WATCHDOG_MS = 5000;

// Close codes the server refuses a socket with (upgrades/live/access.py). Reconnecting cannot help: the page
// stops and says why. 4429 (too many messages) is not here: it reconnects with backoff like any close.
export const REFUSALS = {
  4401: { reason: "signed-out", text: gettext("signed out — sign in again") },
  4403: { reason: "no-access", text: gettext("no access") },
};

// One alert at the top of the page for a refused socket (the run page and the feed may both be refused).
function showRefusal(refusal) {
  let alert = document.querySelector("[data-live-refused]");
  if (!alert) {
    alert = document.createElement("div");
    alert.dataset.liveRefused = "";
    alert.className = "alert alert-error";
    alert.setAttribute("role", "alert");
    (document.querySelector("main") || document.body).prepend(alert);
  }
  alert.dataset.liveRefused = refusal.reason;
  if (refusal.reason === "signed-out") {
    const link = document.createElement("a");
    link.href = `/login/?next=${encodeURIComponent(window.location.pathname + window.location.search)}`;
    link.textContent = gettext("sign in again");
    alert.replaceChildren(gettext("Live updates stopped: signed out — "), link, ".");
  } else {
    alert.replaceChildren(gettext("Live updates stopped: no access (your account has no role on this dashboard)."));
  }
}

// A websocket URL for a path on this host ("/ws/feed/"), in the page's own scheme.
export function socketUrl(path) {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${window.location.host}${path}`;
}

// Milliseconds to wait before reconnect attempt n (1, 2, ...): 0.5 s doubling up to 15 s, with ±20 %
// jitter so the pages a server restart disconnected do not all come back in the same instant.
export function backoffDelay(attempt) {
  return Math.min(15000, 500 * 2 ** Math.min(attempt - 1, 5)) * (0.8 + Math.random() * 0.4);
}

// url: a string, or a function called on every (re)connect.
// onOpen(): connected. onMessage(frame): each frame, parsed from JSON (frames that are not JSON are dropped).
// onDown({attempt, staleSince}): the socket closed; a reconnect is scheduled. heartbeatMs: the server's
// heartbeat interval, to notice a half-dead socket (0: no watchdog). onRefused({code, reason, text}): the
// server refused the socket (4401 signed out, 4403 no role); no reconnect follows, and an alert on the page
// says so.
export function liveSocket({
  url,
  onOpen = () => {},
  onMessage,
  onDown = () => {},
  onRefused = () => {},
  heartbeatMs = 0,
}) {
  let socket = null;
  let attempt = 0;
  let staleSince = null;
  let lastMessage = 0;
  let leaving = false;

  function connect() {
    const current = new WebSocket(typeof url === "function" ? url() : url);
    socket = current;
    current.addEventListener("open", () => {
      attempt = 0;
      staleSince = null;
      lastMessage = Date.now();
      onOpen();
    });
    current.addEventListener("message", (message) => {
      lastMessage = Date.now();
      let frame = null;
      try {
        frame = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      onMessage(frame);
    });
    current.addEventListener("close", (event) => {
      if (socket !== current || leaving) return;
      socket = null;
      const refusal = REFUSALS[event.code];
      if (refusal) {
        leaving = true; // for good: no reconnect, and the watchdog has nothing to close
        showRefusal(refusal);
        onRefused({ code: event.code, ...refusal });
        return;
      }
      if (!staleSince) staleSince = new Date();
      attempt += 1;
      onDown({ attempt, staleSince });
      setTimeout(connect, backoffDelay(attempt));
    });
  }

  const isOpen = () => socket !== null && socket.readyState === WebSocket.OPEN;

  if (heartbeatMs) {
    setInterval(() => {
      if (isOpen() && Date.now() - lastMessage > 2.5 * heartbeatMs) socket.close();
    }, WATCHDOG_MS);
  }
  window.addEventListener("pagehide", () => {
    leaving = true;
    if (socket) socket.close();
  });
  connect();

  return {
    isOpen,
    // Sends a message as JSON when the socket is open; false (nothing sent) otherwise.
    send(message) {
      if (!isOpen()) return false;
      socket.send(JSON.stringify(message));
      return true;
    },
  };
}
