// The run's ETA and each stage's expected duration, kept ticking between events. The rule's home is
// upgrades/operations/eta.py (eta_of); this repeats its arithmetic on the page's state: the expected
// seconds of every stage not yet SUCCEEDed, less the running stage's elapsed time (never below zero for that
// stage). A failed run waits for an operator; a stage still to run without history means no estimate yet.

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
      return "finished";
    case "waiting":
      return "waiting for an operator: no estimate while the run is stopped";
    case "no_history":
      return eta.missing
        ? `no estimate yet: ${eta.missing} stage${eta.missing === 1 ? "" : "s"} still to run never finished before`
        : "no estimate yet";
    default: {
      const late = eta.overdue ? " (the current stage is taking longer than usual)" : "";
      return `about ${duration(eta.remainingMs)} left · finishes around ${clock(eta.finishesAt)}${late}`;
    }
  }
}

// A stage's expected duration, for its head: "usually 1m 30s", or that it has no history.
export function expectedText(nodeId) {
  const seconds = expectedOf(nodeId);
  return seconds == null ? "no history" : `usually ${duration(seconds * 1000)}`;
}
