// One websocket that stays up: reconnects with backoff after any close, remembers since when the page has
// been stale, optionally closes a half-dead socket (no frame for 2.5 heartbeats, e.g. a proxy dropped it),
// and stops for good when the page goes away. Used by the run page (static/js/run/socket.js) and by the
// fleet feed (static/js/feed.js). No dependencies, no build step.

const WATCHDOG_MS = 5000;

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
// heartbeat interval, to notice a half-dead socket (0: no watchdog).
export function liveSocket({ url, onOpen = () => {}, onMessage, onDown = () => {}, heartbeatMs = 0 }) {
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
    current.addEventListener("close", () => {
      if (socket !== current || leaving) return;
      socket = null;
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
