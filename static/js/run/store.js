// The run as the page knows it: the DAG, its stages and sub-tasks, the log lines fetched so far, the
// operators allowed now, and the seq of the last event applied. Changed only by the snapshot and events;
// rendering is the caller's job.

const LOG_MEMORY_LINES = 5000;

export const state = {
  seq: 0,
  dag: null,
  nodes: new Map(),
  subTasks: new Map(),
  logs: new Map(), // sub_task_id -> {lines: Map(id -> entry), fetched, complete, tab, follow}
  actions: {},
  operations: [],
  expected: new Map(), // node id -> the stage's expected seconds, or null without history (upgrades/operations/eta.py)
  targetLine: null, // the log line id of a #log-<id> link, highlighted
  stalls: new Map(), // node id -> the node.stalled payload of its current run (cleared when the node moves on)
};

// The stall report of a node's current run, or null: one made for an earlier run (before a retry) or for a
// node no longer running does not count.
export function stallOf(node) {
  const stall = node ? state.stalls.get(node.id) : null;
  if (!stall || node.state !== "RUNNING") return null;
  return Date.parse(stall.started_at) === Date.parse(node.start_time) ? stall : null;
}

export function sortedNodes() {
  return [...state.nodes.values()].sort((a, b) => a.seq - b.seq);
}

export function tasksOf(nodeId) {
  return [...state.subTasks.values()].filter((t) => t.node_id === nodeId).sort((a, b) => a.id - b.id);
}

export function logStore(subTaskId) {
  let store = state.logs.get(subTaskId);
  if (!store) {
    store = { lines: new Map(), fetched: false, complete: false, tab: "all", follow: true, pending: false };
    state.logs.set(subTaskId, store);
  }
  return store;
}

export function applySnapshot(snapshot) {
  state.seq = snapshot.seq;
  state.dag = snapshot.dag;
  state.actions = snapshot.actions || {};
  state.nodes = new Map(snapshot.nodes.map((n) => [n.id, n]));
  state.subTasks = new Map(snapshot.sub_tasks.map((t) => [t.id, t]));
  state.stalls = new Map((snapshot.stalls || []).map((s) => [s.node_id, s]));
  state.expected = new Map(Object.entries(snapshot.expected || {}).map(([id, seconds]) => [Number(id), seconds]));
  const complete = snapshot.logs_complete || {};
  for (const [id, done] of Object.entries(complete)) {
    const store = logStore(Number(id));
    store.fetched = true;
    store.complete = store.complete || done;
  }
  for (const line of snapshot.logs || []) logStore(line.sub_task_id).lines.set(line.id, line);
  for (const store of state.logs.values()) trimLogs(store);
}

export function applyEvent(event) {
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
    case "node.stalled":
      state.stalls.set(payload.node_id, payload);
      break;
    case "operator.applied":
      state.operations.push({ ...payload, at: event.at });
      break;
    case "agent.unreachable":
    case "agent.back":
    case "agent.lost":
      state.dag = { ...state.dag, contact: payload.contact };
      break;
    default:
      break;
  }
  state.seq = event.seq;
  if (event.actions) state.actions = event.actions;
}

export function trimLogs(store) {
  if (store.lines.size <= LOG_MEMORY_LINES) return;
  const ids = [...store.lines.keys()].sort((a, b) => a - b);
  for (const id of ids.slice(0, ids.length - LOG_MEMORY_LINES)) store.lines.delete(id);
  store.complete = false;
}
