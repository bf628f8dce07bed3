// Getting around a long run: locate the current stage, deep links (#node-<id>, #subtask-<id>, #log-<id>),
// and the keyboard (j/k or arrows between stages, l to locate, ? for help).

import { renderLog } from "./logs.js";
import { role, urls } from "./page.js";
import { toggleNode, toggleTask, ui } from "./render.js";
import { logStore, sortedNodes, state, trimLogs } from "./store.js";

function focusNode(nodeId) {
  const parts = ui.rendered.get(nodeId);
  if (!parts) return;
  parts.item.scrollIntoView({ block: "center", behavior: "smooth" });
  parts.head.focus({ preventScroll: true });
}

export function locateCurrent() {
  const node = sortedNodes().find((n) => n.seq === state.dag.stage);
  if (!node) return;
  toggleNode(node.id, true);
  focusNode(node.id);
}

export function followHash() {
  const hash = window.location.hash.slice(1);
  let match = /^node-(\d+)$/.exec(hash);
  if (match && state.nodes.has(Number(match[1]))) {
    toggleNode(Number(match[1]), true);
    focusNode(Number(match[1]));
    return;
  }
  match = /^log-(\d+)$/.exec(hash);
  if (match) {
    openLogLine(Number(match[1]));
    return;
  }
  match = /^subtask-(\d+)$/.exec(hash);
  const task = match && state.subTasks.get(Number(match[1]));
  if (task) {
    ui.open.add(task.node_id);
    toggleTask(task.id, true);
    document.getElementById(`subtask-${task.id}`)?.scrollIntoView({ block: "center" });
  }
}

export function onKey(event) {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target.closest("input, textarea, select, dialog, [contenteditable]")) return;
  const heads = sortedNodes().map((n) => ui.rendered.get(n.id)?.head).filter(Boolean);
  const index = heads.indexOf(document.activeElement);
  const move = (delta) => {
    const next = heads[Math.max(0, Math.min(heads.length - 1, index < 0 ? 0 : index + delta))];
    if (next) {
      next.focus();
      next.scrollIntoView({ block: "nearest" });
    }
    event.preventDefault();
  };
  if (event.key === "j" || (event.key === "ArrowDown" && index >= 0)) move(1);
  else if (event.key === "k" || (event.key === "ArrowUp" && index >= 0)) move(-1);
  else if (event.key === "l") {
    locateCurrent();
    event.preventDefault();
  } else if (event.key === "?") {
    toggleHelp();
  }
}

export function toggleHelp() {
  const help = document.getElementById("run-keys");
  help.hidden = !help.hidden;
  role("keys-help").setAttribute("aria-expanded", String(!help.hidden));
}

// #log-<id>: ask the server where the line is (its sub-task and the lines around it), open its stage and
// sub-task on "All attempts", then scroll to the line and highlight it.
async function openLogLine(logId) {
  let found = null;
  try {
    const response = await fetch(urls.line(logId), { headers: { Accept: "application/json" } });
    if (response.ok) found = await response.json();
  } catch (error) {
    found = null;
  }
  if (!found || !state.subTasks.has(found.sub_task_id)) {
    role("notice").hidden = false;
    role("notice").textContent = `Log line ${logId} is not part of this run.`;
    return;
  }
  const store = logStore(found.sub_task_id);
  for (const line of found.lines) store.lines.set(line.id, line);
  trimLogs(store);
  store.tab = "all";
  store.follow = false;
  if (found.at_end) store.fetched = true; // the window reaches the last line: no need to ask for the tail
  if (found.at_start) store.complete = store.fetched;
  state.targetLine = logId;
  ui.open.add(found.node_id);
  toggleTask(found.sub_task_id, true);
  renderLog(found.sub_task_id);
  highlightLine(logId);
}

// Also called after a fresh snapshot re-renders the timeline (the line's element is new then).
export function highlightLine(logId = state.targetLine) {
  if (logId == null) return;
  for (const old of document.querySelectorAll(".ll.is-target")) old.classList.remove("is-target");
  const line = document.getElementById(`log-${logId}`);
  if (!line) return;
  line.classList.add("is-target");
  line.setAttribute("tabindex", "-1");
  line.scrollIntoView({ block: "center" });
  line.focus({ preventScroll: true });
}
