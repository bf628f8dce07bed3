// The live run page. Starts from the snapshot the server rendered into the page, then applies the
// ws/dags/<id>/ stream strictly in seq order: a gap (a lost or reordered push) or a heartbeat ahead of us
// asks the server for a resume; a reconnect passes ?after_seq so only the missed events are replayed.
// Never reloads or polls. No dependencies, no build step.

const root = document.getElementById("run");
const $ = (selector, scope = root) => scope.querySelector(selector);
const role = (name, scope = root) => scope.querySelector(`[data-role="${name}"]`);

const EPOCH_YEAR = 1971; // obshell resets times to the unix epoch until a stage (re)starts
const LOG_MEMORY_LINES = 5000;
const STATE_INFO = {
  PENDING: { icon: "○", text: "Pending", cls: "pending" },
  READY: { icon: "◔", text: "Ready", cls: "ready" },
  RUNNING: { icon: "▶", text: "Running", cls: "running" },
  SUCCEED: { icon: "✓", text: "Succeeded", cls: "succeed" },
  FAILED: { icon: "✕", text: "Failed", cls: "failed" },
};

const state = {
  seq: 0,
  dag: null,
  nodes: new Map(),
  subTasks: new Map(),
  logs: new Map(), // sub_task_id -> {lines: Map(id -> entry), fetched, complete, tab, follow}
  actions: {},
  operations: [],
};
const ui = { open: new Set(), openTasks: new Set(), rendered: new Map(), tasks: new Map() };
const canOperate = root.dataset.canOperate === "true";

// ---------- formatting ----------

function parseTime(value) {
  if (!value) return null;
  const time = new Date(value);
  return Number.isNaN(time.getTime()) || time.getUTCFullYear() < EPOCH_YEAR ? null : time;
}

function clock(time) {
  return time ? time.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" }) : "—";
}

function dateTime(time) {
  return time ? `${time.toLocaleDateString()} ${clock(time)}` : "—";
}

function duration(ms) {
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

function span(item, now = Date.now()) {
  const start = parseTime(item.start_time);
  if (!start || item.state === "PENDING" || item.state === "READY") return null;
  if (item.state === "RUNNING") return now - start.getTime();
  const end = parseTime(item.end_time);
  return end && end >= start ? end - start : null;
}

function stateLabel(item) {
  const info = STATE_INFO[item.state] || { icon: "?", text: item.state, cls: "pending" };
  let { icon, text } = info;
  if (item.operator === "PASS" && item.state === "SUCCEED") [icon, text] = ["⤼", "Passed"];
  if (item.operator === "ROLLBACK") {
    if (item.state === "SUCCEED") [icon, text] = ["↺", "Rolled back"];
    else if (item.state === "RUNNING") [icon, text] = ["↺", "Rolling back"];
    else if (item.state === "FAILED") text = "Rollback failed";
    else if (item.state === "PENDING" || item.state === "READY") text = `${text} (rollback)`;
  }
  if (item.operator === "CANCEL" && item.state === "FAILED") [icon, text] = ["⊘", "Cancelled"];
  if (item.operator === "RETRY" && (item.state === "PENDING" || item.state === "READY")) text = `${text} (retry)`;
  return { icon, text, cls: info.cls };
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value == null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) if (child != null) node.append(child);
  return node;
}

function badge(item) {
  const label = stateLabel(item);
  return el("span", { class: `st st-${label.cls}` }, el("span", { "aria-hidden": "true", text: label.icon }), ` ${label.text}`);
}

// ---------- state ----------

function sortedNodes() {
  return [...state.nodes.values()].sort((a, b) => a.seq - b.seq);
}

function tasksOf(nodeId) {
  return [...state.subTasks.values()].filter((t) => t.node_id === nodeId).sort((a, b) => a.id - b.id);
}

function logStore(subTaskId) {
  let store = state.logs.get(subTaskId);
  if (!store) {
    store = { lines: new Map(), fetched: false, complete: false, tab: "all", follow: true, pending: false };
    state.logs.set(subTaskId, store);
  }
  return store;
}

function applySnapshot(snapshot) {
  state.seq = snapshot.seq;
  state.dag = snapshot.dag;
  state.actions = snapshot.actions || {};
  state.nodes = new Map(snapshot.nodes.map((n) => [n.id, n]));
  state.subTasks = new Map(snapshot.sub_tasks.map((t) => [t.id, t]));
  const complete = snapshot.logs_complete || {};
  for (const [id, done] of Object.entries(complete)) {
    const store = logStore(Number(id));
    store.fetched = true;
    store.complete = store.complete || done;
  }
  for (const line of snapshot.logs || []) logStore(line.sub_task_id).lines.set(line.id, line);
  for (const store of state.logs.values()) trimLogs(store);
  renderAll();
}

function applyEvent(event) {
  const payload = event.payload || {};
  switch (event.kind) {
    case "dag.created":
    case "dag.updated":
      state.dag = payload.dag;
      break;
    case "node.updated":
      state.nodes.set(payload.node.id, payload.node);
      break;
    case "subtask.updated":
      state.subTasks.set(payload.sub_task.id, payload.sub_task);
      break;
    case "log.appended": {
      const store = logStore(payload.log.sub_task_id);
      store.lines.set(payload.log.id, payload.log);
      trimLogs(store);
      break;
    }
    case "operator.applied":
      state.operations.push({ ...payload, at: event.at });
      break;
    default:
      break;
  }
  state.seq = event.seq;
  if (event.actions) state.actions = event.actions;
  scheduleRender(event);
}

function trimLogs(store) {
  if (store.lines.size <= LOG_MEMORY_LINES) return;
  const ids = [...store.lines.keys()].sort((a, b) => a - b);
  for (const id of ids.slice(0, ids.length - LOG_MEMORY_LINES)) store.lines.delete(id);
  store.complete = false;
}

// ---------- rendering ----------

const dirty = { header: false, nodes: new Set(), logs: new Set(), all: false };
let renderQueued = false;

function scheduleRender(event) {
  const payload = event.payload || {};
  if (event.kind === "node.updated") dirty.nodes.add(payload.node.id);
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

function renderAll() {
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
  const label = stateLabel(dag);
  const badgeEl = role("dag-state");
  badgeEl.className = `run-state st st-${label.cls}`;
  badgeEl.replaceChildren(el("span", { "aria-hidden": "true", text: label.icon }), ` ${label.text}`);
  role("versions").textContent = `${dag.from_version} → ${dag.to_version}`;
  const route = (dag.route || []).map((hop) => hop.version || hop.build_version);
  role("route").textContent = route.length
    ? `${[dag.from_version.split("-")[0], ...route].join(" → ")} (${route.length} hop${route.length > 1 ? "s" : ""})`
    : "—";
  role("mode").textContent = dag.mode ? dag.mode.toLowerCase().replace("stopservice", "stop-service") : dag.kind;
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

function renderActions() {
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

function renderNode(nodeId) {
  if (!ui.rendered.has(nodeId)) {
    renderAll();
    return;
  }
  fillNode(nodeId);
}

function fillNode(nodeId) {
  const node = state.nodes.get(nodeId);
  const { item, head, body } = ui.rendered.get(nodeId);
  const label = stateLabel(node);
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
  );
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
    const what = node.operator === "CANCEL" ? "⊘ Cancelled on" : "✕ Failed on";
    errorBox.replaceChildren(el("strong", { text: `${what} ${error.task.agent}: ` }),
      el("span", { class: "mono", text: error.line }));
  }
  toolbar.replaceChildren(el("a", { href: `#node-${node.id}`, class: "deep-link", title: "Link to this stage", text: "¶ link" }));
  if (canOperate && state.actions.pass_node === node.id) {
    toolbar.append(el("button", { type: "button", class: "rbtn", "data-action-node": "pass_node",
      onclick: () => openConfirm("pass_node", node) }, "⤼ Pass (node)"));
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

function attemptTabs(store, task) {
  const seen = new Map();
  for (const line of store.lines.values()) seen.set(`${line.execute_times}:${line.phase}`, line);
  for (let n = 1; n <= task.execute_times; n += 1) if (!seen.has(`${n}:run`)) seen.set(`${n}:run`, { execute_times: n, phase: "run" });
  const tabs = [...seen.values()]
    .map((l) => ({ key: `${l.execute_times}:${l.phase}`, n: l.execute_times, phase: l.phase }))
    .sort((a, b) => a.n - b.n || (a.phase === "rollback") - (b.phase === "rollback"));
  return [{ key: "all", label: "All attempts" }, ...tabs.map((t) => ({
    key: t.key,
    label: t.phase === "rollback" ? `Rollback of attempt ${t.n}` : t.n === 1 ? "First run" : `Retry ${t.n - 1}`,
  }))];
}

function visibleLines(store) {
  const lines = [...store.lines.values()].sort((a, b) => a.id - b.id);
  return store.tab === "all" ? lines : lines.filter((l) => `${l.execute_times}:${l.phase}` === store.tab);
}

function lineElement(line) {
  const cls = line.level === "ERROR" ? "ll ll-error" : line.level === "WARN" ? "ll ll-warn" : "ll";
  return el("span", { class: cls, id: `log-${line.id}`, "data-log-id": line.id },
    el("span", { class: "ll-time", text: clock(parseTime(line.at)) }), ` ${line.line}\n`);
}

function renderLog(taskId) {
  const panel = document.getElementById(`subtask-${taskId}-log`);
  const task = state.subTasks.get(taskId);
  if (!panel || !task || panel.hidden) return;
  const store = logStore(taskId);
  if (!store.fetched && !store.pending) requestLogs(taskId, {});
  let pre = panel.querySelector("pre.log");
  if (!pre || panel.dataset.tab !== store.tab || panel.dataset.attempts !== String(task.execute_times)) {
    buildLogPanel(panel, task, store);
    pre = panel.querySelector("pre.log");
  }
  // Append by id: only lines newer than the last one shown; a page of older lines rebuilds the view.
  const lines = visibleLines(store);
  const lastShown = Number(pre.dataset.lastId || 0);
  const firstShown = Number(pre.dataset.firstId || 0);
  if (lines.length && firstShown && lines[0].id < firstShown) {
    pre.replaceChildren();
    pre.dataset.lastId = "0";
    pre.dataset.firstId = "0";
    renderLog(taskId);
    return;
  }
  const fresh = lines.filter((l) => l.id > lastShown);
  if (fresh.length) {
    const fragment = document.createDocumentFragment();
    for (const line of fresh) fragment.append(lineElement(line));
    pre.append(fragment);
    pre.dataset.lastId = String(fresh[fresh.length - 1].id);
    if (!pre.dataset.firstId || pre.dataset.firstId === "0") pre.dataset.firstId = String(lines[0].id);
  }
  const empty = panel.querySelector(".log-empty");
  empty.hidden = lines.length > 0;
  empty.textContent = store.pending ? "Loading log…" : "No log lines yet.";
  panel.querySelector("[data-role=older]").hidden = store.complete || !store.fetched || lines.length === 0;
  if (store.follow) pre.scrollTop = pre.scrollHeight;
}

function buildLogPanel(panel, task, store) {
  panel.dataset.tab = store.tab;
  panel.dataset.attempts = String(task.execute_times);
  const tabs = el("div", { class: "log-tabs", role: "tablist", "aria-label": "Attempts" });
  for (const tab of attemptTabs(store, task)) {
    tabs.append(el("button", {
      type: "button", role: "tab", class: "log-tab", "aria-selected": String(tab.key === store.tab),
      onclick: () => { store.tab = tab.key; panel.dataset.tab = ""; renderLog(task.id); },
    }, tab.label));
  }
  const follow = el("input", { type: "checkbox", id: `follow-${task.id}` });
  follow.checked = store.follow;
  follow.addEventListener("change", () => { store.follow = follow.checked; if (store.follow) renderLog(task.id); });
  const logUrl = root.dataset.logUrl.replace("{sub_task_id}", task.id);
  const tools = el("div", { class: "log-tools" },
    el("label", { class: "log-follow", for: `follow-${task.id}` }, follow, " Follow"),
    el("button", { type: "button", class: "rbtn rbtn-small", onclick: (e) => copyLog(task.id, e.currentTarget) }, "Copy"),
    el("a", { class: "rbtn rbtn-small", href: logUrl, download: "" }, "Download"),
    el("a", { class: "deep-link", href: `#subtask-${task.id}`, text: "¶ link" }));
  const older = el("button", { type: "button", class: "rbtn rbtn-small", "data-role": "older", hidden: true,
    onclick: () => {
      const ids = [...store.lines.keys()];
      requestLogs(task.id, ids.length ? { before_id: Math.min(...ids) } : {});
    } }, "Load earlier lines");
  const pre = el("pre", { class: "log", role: "log", "aria-live": "off", tabindex: "0" });
  pre.addEventListener("scroll", () => {
    const atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 8;
    if (store.follow !== atBottom) {
      store.follow = atBottom;
      follow.checked = atBottom;
    }
  });
  panel.replaceChildren(el("div", { class: "log-bar" }, tabs, tools), older,
    el("p", { class: "log-empty muted", text: "No log lines yet." }), pre);
}

async function copyLog(taskId, button) {
  const text = visibleLines(logStore(taskId)).map((l) => l.line).join("\n");
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch (error) {
    button.textContent = "Copy failed";
  }
  setTimeout(() => { button.textContent = "Copy"; }, 1500);
}

function tick() {
  if (!state.dag) return;
  tickElapsed();
  const now = Date.now();
  for (const [id, parts] of ui.rendered) {
    const node = state.nodes.get(id);
    if (node && node.state === "RUNNING") parts.head.querySelector("[data-role=duration]").textContent = duration(span(node, now));
  }
  for (const cell of root.querySelectorAll("[data-task-id]")) {
    const task = state.subTasks.get(Number(cell.dataset.taskId));
    if (task && task.state === "RUNNING") cell.textContent = duration(span(task, now));
  }
}

// ---------- expanding, deep links, keyboard ----------

function toggleNode(nodeId, force) {
  const open = force ?? !ui.open.has(nodeId);
  if (open) ui.open.add(nodeId);
  else ui.open.delete(nodeId);
  fillNode(nodeId);
}

function toggleTask(taskId, force) {
  const open = force ?? !ui.openTasks.has(taskId);
  if (open) ui.openTasks.add(taskId);
  else ui.openTasks.delete(taskId);
  const task = state.subTasks.get(taskId);
  if (task) fillNode(task.node_id);
}

function focusNode(nodeId) {
  const parts = ui.rendered.get(nodeId);
  if (!parts) return;
  parts.item.scrollIntoView({ block: "center", behavior: "smooth" });
  parts.head.focus({ preventScroll: true });
}

function locateCurrent() {
  const node = sortedNodes().find((n) => n.seq === state.dag.stage);
  if (!node) return;
  toggleNode(node.id, true);
  focusNode(node.id);
}

function followHash() {
  const hash = window.location.hash.slice(1);
  let match = /^node-(\d+)$/.exec(hash);
  if (match && state.nodes.has(Number(match[1]))) {
    toggleNode(Number(match[1]), true);
    focusNode(Number(match[1]));
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

function onKey(event) {
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

function toggleHelp() {
  const help = document.getElementById("run-keys");
  help.hidden = !help.hidden;
  role("keys-help").setAttribute("aria-expanded", String(!help.hidden));
}

// ---------- actions ----------

const ACTION_TITLES = {
  retry: "Retry the failed stage",
  rollback: "Roll back the run",
  cancel: "Cancel the run",
  pass: "Pass the rest of the run",
  pass_node: "Pass this stage",
};

function actionText(action, node) {
  const nodes = sortedNodes();
  const current = nodes.find((n) => n.seq === state.dag.stage);
  const name = (n) => (n ? `“${n.seq}. ${n.name}”` : "the current stage");
  switch (action) {
    case "retry":
      return `Runs ${name(current)} again. Its sub-tasks that failed first run their rollback action, then run again; ` +
        "those that succeeded are not re-run. The run then continues with the remaining stages.";
    case "rollback":
      return `Runs the rollback action of every stage from ${name(current)} back down to ${name(nodes[0])}, in reverse ` +
        "order. The run ends “Rolled back” and releases the cluster's maintenance lock, or fails if a rollback step fails.";
    case "cancel":
      return `Stops the run at ${name(current)}: its ready and running sub-tasks are marked failed (“sub task cancelled”). ` +
        "The run ends Cancelled and the cluster stays under maintenance until the run is retried, rolled back or passed.";
    case "pass": {
      const later = nodes.filter((n) => n.seq > state.dag.stage).length;
      return `Marks ${name(current)} and the ${later} stage${later === 1 ? "" : "s"} after it as passed without running them. ` +
        "The run ends Succeeded (passed) and releases the cluster's maintenance lock.";
    }
    case "pass_node": {
      const next = nodes.find((n) => n.seq === node.seq + 1);
      return `Marks ${name(node)} as passed without running its failed sub-tasks again, and continues the run with ` +
        `${next ? name(next) : "the end of the run"}.`;
    }
    default:
      return "";
  }
}

let pendingAction = null;

function openConfirm(action, node = null) {
  const dialog = role("confirm");
  pendingAction = { action, nodeId: node ? node.id : null };
  role("confirm-title", dialog).textContent = ACTION_TITLES[action];
  role("confirm-text", dialog).textContent = actionText(action, node);
  role("confirm-reason", dialog).value = "";
  role("confirm-error", dialog).hidden = true;
  role("confirm-submit", dialog).disabled = false;
  dialog.dataset.action = action;
  dialog.showModal();
  role("confirm-reason", dialog).focus();
}

async function submitConfirm(event) {
  event.preventDefault();
  const dialog = role("confirm");
  const reasonInput = role("confirm-reason", dialog);
  const errorBox = role("confirm-error", dialog);
  const reason = reasonInput.value.trim();
  if (!reason) {
    errorBox.textContent = "Please say why: the reason is recorded in the audit log.";
    errorBox.hidden = false;
    reasonInput.focus();
    return;
  }
  const submit = role("confirm-submit", dialog);
  submit.disabled = true;
  try {
    const response = await fetch(root.dataset.operateUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": $("input[name=csrfmiddlewaretoken]").value },
      body: JSON.stringify({ action: pendingAction.action, node_id: pendingAction.nodeId, reason }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok || !body.ok) {
      const error = body.error || {};
      errorBox.textContent = `${error.code ? `[${error.code}] ` : ""}${error.message || `request failed (${response.status})`}`;
      errorBox.hidden = false;
      submit.disabled = false;
      return;
    }
    dialog.close();
    notice(`${ACTION_TITLES[pendingAction.action]}: requested.`);
  } catch (error) {
    errorBox.textContent = "The server could not be reached; nothing was changed. Try again.";
    errorBox.hidden = false;
    submit.disabled = false;
  }
}

function notice(text) {
  const box = role("notice");
  box.textContent = text;
  box.hidden = false;
}

// ---------- the socket ----------

const conn = {
  socket: null, attempt: 0, staleSince: null, resuming: false, watchdog: null, lastMessage: 0, heartbeat: 20000,
};

function setConnection(kind, text) {
  const badgeEl = role("connection");
  badgeEl.dataset.conn = kind;
  badgeEl.textContent = text;
}

function connect() {
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const url = `${scheme}://${window.location.host}/ws/dags/${root.dataset.dagId}/?after_seq=${state.seq}`;
  const socket = new WebSocket(url);
  conn.socket = socket;
  conn.resuming = true; // the server answers a connect with a replay or a snapshot
  socket.addEventListener("open", () => {
    conn.attempt = 0;
    conn.staleSince = null;
    conn.lastMessage = Date.now();
    setConnection("live", "● Live");
  });
  socket.addEventListener("message", (message) => {
    conn.lastMessage = Date.now();
    let frame = null;
    try {
      frame = JSON.parse(message.data);
    } catch (error) {
      return;
    }
    onFrame(frame);
  });
  socket.addEventListener("close", () => {
    if (conn.socket !== socket || conn.leaving) return;
    conn.socket = null;
    if (!conn.staleSince) conn.staleSince = new Date();
    conn.attempt += 1;
    const delay = Math.min(15000, 500 * 2 ** Math.min(conn.attempt - 1, 5)) * (0.8 + Math.random() * 0.4);
    const since = conn.staleSince.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
    setConnection(conn.attempt > 2 ? "stale" : "reconnecting",
      conn.attempt > 2 ? `Stale since ${since} · reconnecting` : `Reconnecting… (stale since ${since})`);
    setTimeout(connect, delay);
  });
}

function resume() {
  if (conn.resuming || !conn.socket || conn.socket.readyState !== WebSocket.OPEN) return;
  conn.resuming = true;
  conn.socket.send(JSON.stringify({ type: "resume", after_seq: state.seq }));
}

function onEvent(event) {
  if (event.seq <= state.seq) return; // already applied
  if (event.seq > state.seq + 1) {
    resume(); // a push was lost or overtaken: the replay brings everything after our seq
    return;
  }
  applyEvent(event);
}

function onFrame(frame) {
  switch (frame.type) {
    case "snapshot":
      conn.resuming = false;
      applySnapshot(frame);
      break;
    case "replay":
      conn.resuming = false;
      for (const event of frame.events) onEvent(event);
      break;
    case "event":
      if (!conn.resuming || frame.seq === state.seq + 1) onEvent(frame);
      break;
    case "actions":
      if (frame.seq >= state.seq) {
        state.actions = frame.actions;
        renderActions();
        for (const node of state.nodes.values()) if (ui.open.has(node.id)) dirty.nodes.add(node.id);
        scheduleRender({ kind: "actions" });
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

function requestLogs(taskId, bounds) {
  const store = logStore(taskId);
  if (!conn.socket || conn.socket.readyState !== WebSocket.OPEN) return;
  store.pending = true;
  conn.socket.send(JSON.stringify({ type: "logs", sub_task_id: taskId, ...bounds }));
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

function watchdog() {
  // No frame for over two heartbeats: the socket is half-dead (e.g. a proxy dropped it); start over.
  if (conn.socket && conn.socket.readyState === WebSocket.OPEN && Date.now() - conn.lastMessage > 2.5 * conn.heartbeat) {
    conn.socket.close();
  }
}

// ---------- start ----------

function start() {
  const snapshot = JSON.parse(document.getElementById("run-snapshot").textContent);
  conn.heartbeat = Number(root.dataset.heartbeatSeconds || 20) * 1000;
  applySnapshot(snapshot);
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
  window.addEventListener("pagehide", () => {
    conn.leaving = true;
    if (conn.socket) conn.socket.close();
  });
  setInterval(tick, 1000);
  setInterval(watchdog, 5000);
  if (window.location.hash) followHash();
  connect();
}

start();
