// Formatting: times as obshell sends them (shown in the reader's zone), durations, and the label of a state.

import { fmt, gettext, zoneOffset, zonedClock, zonedDateTime } from "../i18n.js";

const EPOCH_YEAR = 1971; // obshell resets times to the unix epoch until a stage (re)starts

export function parseTime(value) {
  if (!value) return null;
  const time = new Date(value);
  return Number.isNaN(time.getTime()) || time.getUTCFullYear() < EPOCH_YEAR ? null : time;
}

export function clock(time) {
  return time ? zonedClock(time) : "—";
}

export function dateTime(time) {
  return time ? `${zonedDateTime(time)} ${zoneOffset(time)}` : "—";
}

export function duration(ms) {
  if (ms == null || ms < 0) return "—";
  if (ms < 10000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.floor(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h) return `${h}h ${String(m).padStart(2, "0")}m ${String(sec).padStart(2, "0")}s`;
  if (m) return `${m}m ${String(sec).padStart(2, "0")}s`;
  return `${sec}s`;
}

export function span(item, now = Date.now()) {
  const start = parseTime(item.start_time);
  if (!start || item.state === "PENDING" || item.state === "READY") return null;
  if (item.state === "RUNNING") return now - start.getTime();
  const end = parseTime(item.end_time);
  return end && end >= start ? end - start : null;
}

const STATE_TEXT = {
  PENDING: gettext("Pending"), READY: gettext("Ready"), RUNNING: gettext("Running"), SUCCEED: gettext("Succeeded"),
  FAILED: gettext("Failed"),
};

// How a DAG, stage or sub-task reads: its state, or what an operator made of it (passed, rolled back,
// cancelled). icons: the page's table of state and operator icons.
export function stateLabel(item, icons) {
  const known = Object.hasOwn(STATE_TEXT, item.state);
  let icon = known ? icons.states[item.state] : icons.unknown;
  let text = known ? STATE_TEXT[item.state] : item.state;
  const cls = known ? item.state.toLowerCase() : "pending";
  const op = icons.operators;
  if (item.operator === "PASS" && item.state === "SUCCEED") [icon, text] = [op.PASS, gettext("Passed")];
  if (item.operator === "ROLLBACK") {
    if (item.state === "SUCCEED") [icon, text] = [op.ROLLBACK, gettext("Rolled back")];
    else if (item.state === "RUNNING") [icon, text] = [op.ROLLBACK, gettext("Rolling back")];
    else if (item.state === "FAILED") text = gettext("Rollback failed");
    else if (item.state === "PENDING" || item.state === "READY") text = fmt(gettext("%(state)s (rollback)"), { state: text });
  }
  if (item.operator === "CANCEL" && item.state === "FAILED") [icon, text] = [op.CANCEL, gettext("Cancelled")];
  if (item.operator === "RETRY" && (item.state === "PENDING" || item.state === "READY")) text = fmt(gettext("%(state)s (retry)"), { state: text });
  return { icon, text, cls };
}
