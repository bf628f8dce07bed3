// What the server put in the page for the scripts: the #run element and its data- attributes (URLs, role,
// heartbeat), the snapshot and the state icons (json_script), and a small element builder.

export const root = document.getElementById("run");
export const $ = (selector, scope = root) => scope.querySelector(selector);
export const role = (name, scope = root) => scope.querySelector(`[data-role="${name}"]`);

const readJson = (id) => JSON.parse(document.getElementById(id).textContent);

export const canOperate = root.dataset.canOperate === "true";
export const heartbeatMs = Number(root.dataset.heartbeatSeconds || 20) * 1000;
// {"states": {state: icon}, "operators": {operator: icon}, "unknown": icon}: dashboard/pages/icons.py.
export const icons = readJson("state-icons");
export const urls = {
  operate: root.dataset.operateUrl,
  socket: root.dataset.socketUrl, // a path: /ws/dags/<id>/
  log: (subTaskId) => root.dataset.logUrl.replace("{sub_task_id}", subTaskId),
  line: (logId) => root.dataset.lineUrl.replace(/\/0\/$/, `/${logId}/`), // /runs/<dag_id>/logs/lines/<id>/
};

export function initialSnapshot() {
  return readJson("run-snapshot");
}

export function csrfToken() {
  return $("input[name=csrfmiddlewaretoken]").value;
}

export function el(tag, attrs = {}, ...children) {
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
