// The live run page. Starts from the snapshot the server rendered into the page, then applies the
// ws/dags/<id>/ stream strictly in seq order: a gap (a lost or reordered push) or a heartbeat ahead of us
// asks the server for a resume; a reconnect passes ?after_seq so only the missed events are replayed.
// Never reloads or polls. No dependencies, no build step: the modules in static/js/run/ are
//   page.js      what the server put in the page (data- attributes, json_script), the element builder
//   format.js    times, durations, state labels
//   store.js     the run as the page knows it, changed by the snapshot and events
//   render.js    header and timeline, batched per frame; expanding stages and sub-tasks
//   logs.js      a sub-task's log panel
//   navigate.js  locate the current stage, deep links (#node-, #subtask-, #log-<id>), keyboard
//   eta.js       the run's ETA and each stage's expected duration (the rule: upgrades/operations/eta.py)
//   operate.js   the confirm dialog and the operate request
//   socket.js    the run's websocket (static/js/live_socket.js) and the connection badge

import { followHash, highlightLine, locateCurrent, onKey, toggleHelp } from "./run/navigate.js";
import { openConfirm, submitConfirm } from "./run/operate.js";
import { initialSnapshot, role, root } from "./run/page.js";
import { actionsChanged, fillNode, renderAll, scheduleRender, tick } from "./run/render.js";
import { renderLog } from "./run/logs.js";
import { connect, isOpen, send } from "./run/socket.js";
import { applyEvent, applySnapshot, logStore, state, trimLogs } from "./run/store.js";

let resuming = false; // a resume (or a connect) is under way: the server answers with a replay or a snapshot

function resume() {
  if (resuming || !isOpen()) return;
  resuming = true;
  send({ type: "resume", after_seq: state.seq });
}

function onEvent(event) {
  if (event.seq <= state.seq) return; // already applied
  if (event.seq > state.seq + 1) {
    resume(); // a push was lost or overtaken: the replay brings everything after our seq
    return;
  }
  applyEvent(event);
  scheduleRender(event);
}

function onFrame(frame) {
  switch (frame.type) {
    case "snapshot":
      resuming = false;
      applySnapshot(frame);
      renderAll();
      highlightLine();
      break;
    case "replay":
      resuming = false;
      for (const event of frame.events) onEvent(event);
      break;
    case "event":
      if (!resuming || frame.seq === state.seq + 1) onEvent(frame);
      break;
    case "actions":
      if (frame.seq >= state.seq) {
        state.actions = frame.actions;
        actionsChanged();
      }
      break;
    case "heartbeat":
      if (frame.seq > state.seq) resume();
      break;
    case "logs":
      onLogs(frame);
      break;
    default:
      break;
  }
}

function onLogs(frame) {
  const store = logStore(frame.sub_task_id);
  store.pending = false;
  for (const line of frame.lines) store.lines.set(line.id, line);
  if (frame.after_id == null) {
    store.fetched = true;
    if (!frame.more) store.complete = true;
  }
  trimLogs(store);
  renderLog(frame.sub_task_id);
  const task = state.subTasks.get(frame.sub_task_id);
  if (task && state.nodes.get(task.node_id)?.state === "FAILED") fillNode(task.node_id);
}

function start() {
  applySnapshot(initialSnapshot());
  renderAll();
  for (const button of root.querySelectorAll("[data-action]")) {
    button.addEventListener("click", () => openConfirm(button.dataset.action));
  }
  role("locate").addEventListener("click", locateCurrent);
  role("keys-help").addEventListener("click", toggleHelp);
  role("confirm-form").addEventListener("submit", submitConfirm);
  role("confirm-reason").addEventListener("input", () => { role("confirm-error").hidden = true; });
  role("confirm-cancel").addEventListener("click", () => role("confirm").close());
  document.addEventListener("keydown", onKey);
  window.addEventListener("hashchange", followHash);
  setInterval(tick, 1000);
  if (window.location.hash) followHash();
  connect({ onOpen: () => { resuming = true; }, onFrame });
}

start();
