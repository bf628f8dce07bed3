// A sub-task's log panel: one tab per attempt (and rollback), follow, copy, download, and earlier lines on
// demand. Lines are appended by id; the first view and older pages are asked for over the socket.

import { fmt, gettext } from "../i18n.js";
import { clock, parseTime } from "./format.js";
import { el, urls } from "./page.js";
import { requestLogs } from "./socket.js";
import { logStore, state } from "./store.js";

function attemptTabs(store, task) {
  const seen = new Map();
  for (const line of store.lines.values()) seen.set(`${line.execute_times}:${line.phase}`, line);
  for (let n = 1; n <= task.execute_times; n += 1) if (!seen.has(`${n}:run`)) seen.set(`${n}:run`, { execute_times: n, phase: "run" });
  const tabs = [...seen.values()]
    .map((l) => ({ key: `${l.execute_times}:${l.phase}`, n: l.execute_times, phase: l.phase }))
    .sort((a, b) => a.n - b.n || (a.phase === "rollback") - (b.phase === "rollback"));
  return [{ key: "all", label: gettext("All attempts") }, ...tabs.map((t) => ({
    key: t.key,
    label: t.phase === "rollback"
      ? fmt(gettext("Rollback of attempt %(n)s"), { n: t.n })
      : t.n === 1 ? gettext("First run") : fmt(gettext("Retry %(n)s"), { n: t.n - 1 }),
  }))];
}

export function visibleLines(store) {
  const lines = [...store.lines.values()].sort((a, b) => a.id - b.id);
  return store.tab === "all" ? lines : lines.filter((l) => `${l.execute_times}:${l.phase}` === store.tab);
}

function lineElement(line) {
  let cls = line.level === "ERROR" ? "ll ll-error" : line.level === "WARN" ? "ll ll-warn" : "ll";
  if (line.id === state.targetLine) cls += " is-target";
  return el("span", { class: cls, id: `log-${line.id}`, "data-log-id": line.id },
    // The time links to the line (#log-<id>); out of the tab order, so a long log is not a thousand stops.
    el("a", { class: "ll-time", href: `#log-${line.id}`, tabindex: "-1", title: gettext("Link to this line"), text: clock(parseTime(line.at)) }),
    ` ${line.line}\n`);
}

export function renderLog(taskId) {
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
  empty.textContent = store.pending ? gettext("Loading log…") : gettext("No log lines yet.");
  panel.querySelector("[data-role=older]").hidden = store.complete || !store.fetched || lines.length === 0;
  if (store.follow) pre.scrollTop = pre.scrollHeight;
}

function buildLogPanel(panel, task, store) {
  panel.dataset.tab = store.tab;
  panel.dataset.attempts = String(task.execute_times);
  const tabs = el("div", { class: "log-tabs", role: "tablist", "aria-label": gettext("Attempts") });
  for (const tab of attemptTabs(store, task)) {
    tabs.append(el("button", {
      type: "button", role: "tab", class: "log-tab", "aria-selected": String(tab.key === store.tab),
      onclick: () => { store.tab = tab.key; panel.dataset.tab = ""; renderLog(task.id); },
    }, tab.label));
  }
  const follow = el("input", { type: "checkbox", id: `follow-${task.id}` });
  follow.checked = store.follow;
  follow.addEventListener("change", () => { store.follow = follow.checked; if (store.follow) renderLog(task.id); });
  const logUrl = urls.log(task.id);
  const tools = el("div", { class: "log-tools" },
    el("label", { class: "log-follow", for: `follow-${task.id}` }, follow, ` ${gettext("Follow")}`),
    el("button", { type: "button", class: "rbtn rbtn-small", onclick: (e) => copyLog(task.id, e.currentTarget) }, gettext("Copy")),
    el("a", { class: "rbtn rbtn-small", href: logUrl, download: "" }, gettext("Download")),
    el("a", { class: "deep-link", href: `#subtask-${task.id}`, text: `¶ ${gettext("link")}` }));
  const older = el("button", { type: "button", class: "rbtn rbtn-small", "data-role": "older", hidden: true,
    onclick: () => {
      const ids = [...store.lines.keys()];
      requestLogs(task.id, ids.length ? { before_id: Math.min(...ids) } : {});
    } }, gettext("Load earlier lines"));
  const pre = el("pre", { class: "log", role: "log", "aria-live": "off", tabindex: "0" });
  pre.addEventListener("scroll", () => {
    const atBottom = pre.scrollHeight - pre.scrollTop - pre.clientHeight < 8;
    if (store.follow !== atBottom) {
      store.follow = atBottom;
      follow.checked = atBottom;
    }
  });
  panel.replaceChildren(el("div", { class: "log-bar" }, tabs, tools), older,
    el("p", { class: "log-empty muted", text: gettext("No log lines yet.") }), pre);
}

async function copyLog(taskId, button) {
  const text = visibleLines(logStore(taskId)).map((l) => l.line).join("\n");
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = gettext("Copied");
  } catch (error) {
    button.textContent = gettext("Copy failed");
  }
  setTimeout(() => { button.textContent = gettext("Copy"); }, 1500);
}
