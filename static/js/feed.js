// Fleet-wide live updates (ws/feed/): keeps the top-bar counters and any element marked
// data-live-region="<name>" fresh. On an event it re-fetches the current page (or the counters
// fragment when the page has no other live region) and swaps the regions in place, so the server
// renders every state exactly one way. Reconnects with backoff (static/js/live_socket.js); shows
// "stale since hh:mm" meanwhile. Its URLs come from the page: data-feed-url and data-counters-url on the
// top bar's live status (templates/base.html).

import { fmt, gettext, zonedClock } from "./i18n.js";
import { liveSocket, socketUrl } from "./live_socket.js";

const status = document.querySelector("[data-live-status]");
let refreshTimer = null;

function setStatus(text, stale) {
  status.hidden = false;
  status.textContent = text;
  status.classList.toggle("is-stale", stale);
}

function regions(root) {
  const found = new Map();
  root.querySelectorAll("[data-live-region]").forEach((el) => found.set(el.dataset.liveRegion, el));
  return found;
}

async function refresh() {
  const current = regions(document);
  const onlyCounters = current.size === 1 && current.has("counters");
  const url = onlyCounters ? status.dataset.countersUrl : window.location.href;
  try {
    const response = await fetch(url, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" });
    if (!response.ok) return;
    const fresh = regions(new DOMParser().parseFromString(await response.text(), "text/html"));
    for (const [name, el] of current) {
      const replacement = fresh.get(name);
      // Never clobber a region the user is typing in or has focus inside.
      if (replacement && !el.contains(document.activeElement)) el.innerHTML = replacement.innerHTML;
    }
    document.dispatchEvent(new CustomEvent("live:refreshed"));
  } catch (error) {
    // A failed refresh leaves the server-rendered state in place; the next event retries.
  }
}

const ACTIVE = new Set(["PENDING", "READY", "RUNNING"]);

function countersMatch(dags) {
  const shown = (name) => {
    const el = document.querySelector(`[data-counter=${name}]`);
    return el ? Number(el.textContent) : null;
  };
  const running = dags.filter((dag) => ACTIVE.has(dag.state)).length;
  const failed = dags.filter((dag) => dag.state === "FAILED" && dag.holds_lock).length;
  return shown("running") === running && shown("failed") === failed;
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, 300);
}

function onMessage(message) {
  if (!message || message.type === "heartbeat" || message.type === "error") return;
  if (message.type === "hello") {
    // Sent on every (re)connect with the unfinished runs: refresh only if the page disagrees with it.
    if (!countersMatch(message.dags || [])) scheduleRefresh();
    return;
  }
  document.dispatchEvent(new CustomEvent("feed:event", { detail: message }));
  scheduleRefresh();
}

liveSocket({
  url: socketUrl(status.dataset.feedUrl),
  onOpen: () => setStatus(`● ${gettext("live")}`, false),
  onMessage,
  onDown: ({ staleSince }) => setStatus(fmt(gettext("reconnecting · stale since %(since)s"), { since: zonedClock(staleSince, false) }), true),
  onRefused: ({ text }) => setStatus(fmt(gettext("stopped · %(why)s"), { why: text }), true),
});
