// The fleet page's running upgrades, live from the feed socket (static/js/feed.js re-dispatches each frame as a
// "feed:event"). A "dag" frame moves the run's progress bar and its "done/total stages" at once; a "stall" frame
// marks the run's row at once. feed.js then re-renders the list from the server (the ETA, the stalled stage's
// words, a run that started or ended), so what this script writes is only ever a head start on that render.

function progressOf(dagId) {
  return document.querySelector(`[data-progress-run="${dagId}"]`);
}

function showStage(dag) {
  const box = progressOf(dag.id);
  if (!box || !dag.max_stage) return;
  const done = Math.max(dag.stage - 1, 0);
  const bar = box.querySelector("progress");
  if (bar) {
    bar.max = dag.max_stage;
    bar.value = done;
  }
  const text = box.querySelector("[data-progress-text]");
  if (text) text.textContent = text.textContent.replace(/\d+\/\d+/, `${done}/${dag.max_stage}`);
}

function markStalled(dagId) {
  const box = progressOf(dagId);
  const row = box && box.closest("tr");
  if (row) row.classList.add("row-stalled");
}

document.addEventListener("feed:event", (event) => {
  const message = event.detail || {};
  if (message.type === "dag" && message.dag) showStage(message.dag);
  else if (message.type === "stall") markStalled(message.dag_id);
});
