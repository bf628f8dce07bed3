// Rendering: the header (state, facts, progress, actions) and the timeline of stages and their sub-tasks.
// Changes are batched per animation frame (scheduleRender); stages and sub-tasks are built once and then
// updated in place, so open logs keep their scroll.

import { etaText, expectedText, runEta } from "./eta.js";
import { clock, dateTime, duration, parseTime, span, stateLabel } from "./format.js";
import { renderLog } from "./logs.js";
import { openConfirm } from "./operate.js";
import { canOperate, el, icons, role, root } from "./page.js";
import { logStore, sortedNodes, stallOf, state, tasksOf } from "./store.js";

// A DAG without a mode says what kind of run it is (obshell's own upgrade reads better than its kind key).
const KIND_LABELS = { agent_upgrade: "obshell upgrade", agent_upgrade_check: "obshell upgrade check" };
const kindLabel = (kind) => KIND_LABELS[kind] || kind;

// What is shown: open stages and sub-tasks, and the elements built for each.
export const ui = { open: new Set(), openTasks: new Set(), rendered: new Map(), tasks: new Map() };

function badge(item) {
  const label = stateLabel(item, icons);
  return el("span", { class: `st st-${label.cls}` }, el("span", { "aria-hidden": "true", text: label.icon }), ` ${label.text}`);
}

const dirty = { header: false, nodes: new Set(), logs: new Set(), all: false };
let renderQueued = false;

// The operators allowed now changed: the action buttons and the open stages' pass buttons follow.
export function actionsChanged() {
  renderActions();
  for (const node of state.nodes.values()) if (ui.open.has(node.id)) dirty.nodes.add(node.id);
  scheduleRender({ kind: "actions" });
}

export function scheduleRender(event) {
  const payload = event.payload || {};
  if (event.kind === "node.updated") dirty.nodes.add(payload.node.id);
  else if (event.kind === "node.stalled") dirty.nodes.add(payload.node_id);
  else if (event.kind === "subtask.updated") dirty.nodes.add(payload.sub_task.node_id);
  else if (event.kind === "log.appended") dirty.logs.add(payload.log.sub_task_id);
  dirty.header = true;
  if (!renderQueued) {
    renderQueued = true;
    requestAnimationFrame(flush);
  }
}

function flush() {
  renderQueued = false;
  if (dirty.all) {
    dirty.all = false;
    renderAll();
  }
  if (dirty.header) renderHeader();
  for (const id of dirty.nodes) renderNode(id);
  for (const id of dirty.logs) renderLog(id);
  dirty.header = false;
  dirty.nodes.clear();
  dirty.logs.clear();
  root.dataset.dagSeq = String(state.seq);
}

export function renderAll() {
  renderHeader();
  const list = role("timeline");
  ui.rendered.clear();
  ui.tasks.clear();
  list.replaceChildren(...sortedNodes().map((node) => buildNode(node)));
  for (const node of state.nodes.values()) fillNode(node.id);
  root.dataset.dagSeq = String(state.seq);
}

function renderHeader() {
  const dag = state.dag;
  root.dataset.dagState = dag.state;
  root.dataset.dagSeq = String(state.seq);
  const label = stateLabel(dag, icons);
  const badgeEl = role("dag-state");
  badgeEl.className = `run-state st st-${label.cls}`;
  badgeEl.replaceChildren(el("span", { "aria-hidden": "true", text: label.icon }), ` ${label.text}`);
  role("versions").textContent = `${dag.from_version} → ${dag.to_version}`;
  const route = (dag.route || []).map((hop) => hop.version || hop.build_version);
  role("route").textContent = route.length
    ? `${[dag.from_version.split("-")[0], ...route].join(" → ")} (${route.length} hop${route.length > 1 ? "s" : ""})`
    : "—";
  role("mode").textContent = dag.mode ? dag.mode.toLowerCase().replace("stopservice", "stop-service") : kindLabel(dag.kind);
  role("actor").textContent = dag.actor || "—";
  role("reason").textContent = dag.reason || "—";
  role("progress-text").textContent = `stage ${dag.stage} of ${dag.max_stage}`;
  const progress = role("progress");
  progress.max = dag.max_stage;
  const done = sortedNodes().filter((n) => n.state === "SUCCEED").length;
  progress.value = done;
  progress.setAttribute("aria-label", `${done} of ${dag.max_stage} stages done`);
  role("start-time").textContent = dateTime(parseTime(dag.start_time));
  for (const [id, parts] of ui.rendered) parts.item.classList.toggle("is-current", state.nodes.get(id)?.seq === dag.stage);
  tickElapsed();
  renderActions();
  const failedNode = sortedNodes().find((n) => n.state === "FAILED");
  if (failedNode && !ui.autoOpened?.has(failedNode.id)) {
    ui.autoOpened = ui.autoOpened || new Set();
    ui.autoOpened.add(failedNode.id);
    ui.open.add(failedNode.id);
    dirty.nodes.add(failedNode.id);
    if (!renderQueued) {
      renderQueued = true;
      requestAnimationFrame(flush);
    }
  }
}

export function renderActions() {
  for (const button of root.querySelectorAll("[data-action]")) {
    const action = button.dataset.action;
    button.hidden = !canOperate || !state.actions[action];
  }
}

function tickElapsed() {
  const dag = state.dag;
  const start = parseTime(dag.start_time);
  let text = "—";
  if (start) {
    const end = dag.is_finished || dag.state === "FAILED" || dag.state === "SUCCEED" ? parseTime(dag.end_time) : null;
    const stop = end && end >= start ? end.getTime() : Date.now();
    text = duration(stop - start.getTime());
  }
  role("elapsed").textContent = text;
  renderEta();
  renderAgentContact();
}

function renderEta() {
  const box = role("eta");
  if (!box) return;
  const eta = runEta();
  box.dataset.eta = eta.status;
  box.textContent = etaText(eta);
}

// A mirrored run: the agent restarts during every upgrade, so "unreachable" is a state to show, not a failure.
function renderAgentContact() {
  const banner = role("agent-contact");
  if (!banner) return;
  const contact = state.dag.contact || {};
  const since = parseTime(contact.unreachable_since);
  const problem = contact.last_error === "credentials rejected" || contact.last_error === "public key changed";
  if (!since && !problem) {
    banner.hidden = true;
    return;
  }
  banner.hidden = false;
  const away = since ? ` for ${duration(Date.now() - since.getTime())} (since ${clock(since)})` : "";
  let text = `Agent unreachable, retrying${away}`;
  if (problem) text = `Agent contact stopped: ${contact.last_error}. An admin must act on the cluster page.`;
  else if (contact.lost) text = `Lost contact with the agent${away}; the run resumes when it answers`;
  banner.dataset.contact = problem ? "stopped" : contact.lost ? "lost" : "retrying";
  banner.textContent = text;
}

function buildNode(node) {
  const item = el("li", { class: "node", id: `node-${node.id}`, "data-node-id": node.id });
  const head = el("button", {
    type: "button",
    class: "node-head",
    "aria-expanded": "false",
    "aria-controls": `node-${node.id}-body`,
    onclick: () => toggleNode(node.id),
  });
  const body = el("div", { class: "node-body", id: `node-${node.id}-body`, hidden: true });
  item.append(head, body);
  ui.rendered.set(node.id, { item, head, body });
  return item;
}

export function renderNode(nodeId) {
  if (!ui.rendered.has(nodeId)) {
    renderAll();
    return;
  }
  fillNode(nodeId);
}

export function fillNode(nodeId) {
  const node = state.nodes.get(nodeId);
  const { item, head, body } = ui.rendered.get(nodeId);
  const label = stateLabel(node, icons);
  item.dataset.nodeState = node.state;
  item.className = `node node-${label.cls}${node.seq === state.dag.stage ? " is-current" : ""}`;
  const open = ui.open.has(nodeId);
  head.setAttribute("aria-expanded", String(open));
  const tasks = tasksOf(nodeId);
  const where = [node.hop ? `hop ${node.hop}` : null, node.zone || null].filter(Boolean).join(" · ");
  head.replaceChildren(
    el("span", { class: "node-caret", "aria-hidden": "true", text: open ? "▾" : "▸" }),
    el("span", { class: "node-seq", text: String(node.seq) }),
    el("span", { class: "node-name" }, node.name, where ? el("span", { class: "node-where", text: where }) : null),
    badge(node),
    el("span", { class: "node-agents", text: `${tasks.length} agent${tasks.length === 1 ? "" : "s"}` }),
    el("span", { class: "node-start", text: node.state === "PENDING" ? "" : clock(parseTime(node.start_time)) }),
    el("span", { class: "node-duration", "data-role": "duration", text: duration(span(node)) }),
    el("span", { class: "node-expected", "data-role": "expected", text: expectedText(node.id) }),
    ...[stallMark(node)].filter(Boolean),
  );
  item.dataset.stalled = String(Boolean(stallOf(node)));
  body.hidden = !open;
  if (open) fillNodeBody(node, body, tasks);
}

function nodeError(node) {
  for (const task of tasksOf(node.id)) {
    if (task.state !== "FAILED") continue;
    const lines = [...logStore(task.id).lines.values()].sort((a, b) => a.id - b.id);
    const error = [...lines].reverse().find((l) => l.level === "ERROR") || lines[lines.length - 1];
    if (error) return { task, line: error.line };
    return { task, line: "failed (no log line yet)" };
  }
  return null;
}

function fillNodeBody(node, body, tasks) {
  // Built once and updated in place: re-inserting the list would reset the scroll of open logs.
  if (!body.firstChild) {
    body.append(el("div", { class: "node-error", role: "alert", hidden: true }), el("div", { class: "node-tools" }),
      el("ul", { class: "subtasks" }));
  }
  const [errorBox, toolbar, list] = body.children;
  const error = node.state === "FAILED" ? nodeError(node) : null;
  errorBox.hidden = !error;
  if (error) {
    const what = node.operator === "CANCEL" ? `${icons.operators.CANCEL} Cancelled on` : `${icons.states.FAILED} Failed on`;
    errorBox.replaceChildren(el("strong", { text: `${what} ${error.task.agent}: ` }),
      el("span", { class: "mono", text: error.line }));
  }
  toolbar.replaceChildren(el("a", { href: `#node-${node.id}`, class: "deep-link", title: "Link to this stage", text: "¶ link" }));
  if (canOperate && state.actions.pass_node === node.id) {
    toolbar.append(el("button", { type: "button", class: "rbtn", "data-action-node": "pass_node",
      onclick: () => openConfirm("pass_node", node) }, `${icons.operators.PASS} Pass (node)`));
  }
  const items = tasks.map((task) => buildTask(task));
  if (items.length !== list.children.length || items.some((item, i) => list.children[i] !== item)) {
    list.replaceChildren(...items);
  }
  for (const task of tasks) if (ui.openTasks.has(task.id)) renderLog(task.id);
}

function buildTask(task) {
  let parts = ui.tasks.get(task.id);
  if (!parts) {
    const item = el("li", { class: "subtask", id: `subtask-${task.id}` });
    const head = el("button", {
      type: "button", class: "subtask-head", "aria-controls": `subtask-${task.id}-log`, onclick: () => toggleTask(task.id),
    });
    const panel = el("div", { class: "log-panel", id: `subtask-${task.id}-log`, hidden: true });
    item.append(head, panel);
    parts = { item, head, panel };
    ui.tasks.set(task.id, parts);
  }
  const open = ui.openTasks.has(task.id);
  const attempts = task.execute_times > 1 ? ` · attempt ${task.execute_times}` : "";
  parts.item.dataset.subtaskState = task.state;
  parts.head.setAttribute("aria-expanded", String(open));
  parts.head.replaceChildren(
    el("span", { class: "node-caret", "aria-hidden": "true", text: open ? "▾" : "▸" }),
    el("span", { class: "mono subtask-agent", text: task.agent }),
    badge(task),
    el("span", { class: "subtask-meta", text: `${task.name}${attempts}` }),
    el("span", { class: "node-start", text: task.state === "PENDING" ? "" : clock(parseTime(task.start_time)) }),
    el("span", { class: "node-duration", "data-role": "duration", "data-task-id": task.id, text: duration(span(task)) }),
  );
  parts.panel.hidden = !open;
  return parts.item;
}

// "⚠ stalled: running 4m12s, usually 1m30s" on a running stage past twice its usual duration.
function stallText(node, stall, now = Date.now()) {
  const usual = stall.usual_median_seconds == null ? "" : `, usually ${duration(stall.usual_median_seconds * 1000)}`;
  return `stalled: running ${duration(span(node, now))}${usual}`;
}

function stallMark(node) {
  const stall = stallOf(node);
  if (!stall) return null;
  const p90 = stall.usual_p90_seconds == null ? "" : `; 9 in 10 runs finish within ${duration(stall.usual_p90_seconds * 1000)}`;
  return el("span", {
    class: "stall-mark", "data-role": "stall",
    title: `usual duration from ${stall.usual_samples} finished runs${p90}`,
  }, el("span", { "aria-hidden": "true", text: "⚠ " }), el("span", { "data-role": "stall-text", text: stallText(node, stall) }));
}

export function tick() {
  if (!state.dag) return;
  tickElapsed();
  const now = Date.now();
  for (const [id, parts] of ui.rendered) {
    const node = state.nodes.get(id);
    if (node && node.state === "RUNNING") {
      parts.head.querySelector("[data-role=duration]").textContent = duration(span(node, now));
      const stall = stallOf(node);
      const text = stall && parts.head.querySelector("[data-role=stall-text]");
      if (text) text.textContent = stallText(node, stall, now);
    }
  }
  for (const cell of root.querySelectorAll("[data-task-id]")) {
    const task = state.subTasks.get(Number(cell.dataset.taskId));
    if (task && task.state === "RUNNING") cell.textContent = duration(span(task, now));
  }
}

// ---------- expanding ----------

export function toggleNode(nodeId, force) {
  const open = force ?? !ui.open.has(nodeId);
  if (open) ui.open.add(nodeId);
  else ui.open.delete(nodeId);
  fillNode(nodeId);
}

export function toggleTask(taskId, force) {
  const open = force ?? !ui.openTasks.has(taskId);
  if (open) ui.openTasks.add(taskId);
  else ui.openTasks.delete(taskId);
  const task = state.subTasks.get(taskId);
  if (task) fillNode(task.node_id);
}
