// The run's ETA and each stage's expected duration, kept ticking between events. The rule's home is
// upgrades/operations/eta.py (eta_of); this repeats its arithmetic on the page's state: the expected
// seconds of every stage not yet SUCCEEDed, less the running stage's elapsed time (never below zero for that
// stage). A failed run waits for an operator; a stage still to run without history means no estimate yet.

import { fmt, gettext, ngettext } from "../i18n.js";
import { clock, duration, parseTime } from "./format.js";
import { sortedNodes, state } from "./store.js";

export function expectedOf(nodeId) {
  const seconds = state.expected.get(nodeId);
  return seconds == null ? null : seconds;
}

export function runEta(now = Date.now()) {
  const dag = state.dag;
  if (!dag) return { status: "no_history" };
  if (dag.is_finished) return { status: "finished", remainingMs: 0 };
  let remainingMs = 0;
  let missing = 0;
  let overdue = false;
  for (const node of sortedNodes()) {
    if (node.state === "SUCCEED") continue;
    const seconds = expectedOf(node.id);
    if (seconds == null) {
      missing += 1;
      continue;
    }
    let ms = seconds * 1000;
    const start = node.state === "RUNNING" ? parseTime(node.start_time) : null;
    if (start) {
      const elapsed = Math.max(now - start.getTime(), 0);
      overdue = overdue || elapsed > ms;
      ms = Math.max(ms - elapsed, 0);
    }
    remainingMs += ms;
  }
  if (dag.state === "FAILED") return { status: "waiting" };
  if (missing) return { status: "no_history", missing };
  return { status: "estimate", remainingMs, finishesAt: new Date(now + remainingMs), overdue };
}

// What the header's ETA says, in words (state with text, not colour alone).
export function etaText(eta) {
  switch (eta.status) {
    case "finished":
      return gettext("finished");
    case "waiting":
      return gettext("waiting for an operator: no estimate while the run is stopped");
    case "no_history":
      return eta.missing
        ? fmt(
            ngettext(
              "no estimate yet: %(n)s stage still to run never finished before",
              "no estimate yet: %(n)s stages still to run never finished before",
              eta.missing,
            ),
            { n: eta.missing },
          )
        : gettext("no estimate yet");
    default: {
      const text = fmt(gettext("about %(left)s left · finishes around %(at)s"), {
        left: duration(eta.remainingMs),
        at: clock(eta.finishesAt),
      });
      return eta.overdue ? text + gettext(" (the current stage is taking longer than usual)") : text;
    }
  }
}

// A stage's expected duration, for its head: "usually 1m 30s", or that it has no history.
export function expectedText(nodeId) {
  const seconds = expectedOf(nodeId);
  if (seconds == null) return gettext("no history");
  return fmt(gettext("usually %(duration)s"), { duration: duration(seconds * 1000) });
}
