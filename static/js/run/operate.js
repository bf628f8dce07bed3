// Acting on a run: retry, roll back, cancel, pass (the run or one stage). Each asks for a reason in a
// dialog that says what will happen, then posts to the page's operate URL; the result arrives as events.

import { csrfToken, role, urls } from "./page.js";
import { sortedNodes, state } from "./store.js";

const ACTION_TITLES = {
  retry: "Retry the failed stage",
  rollback: "Roll back the run",
  continue_rollback: "Continue the rollback",
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
      return `Runs ${name(current)} again. Its sub-tasks that failed first run their rollback action, then run ` +
        "again; those that succeeded are not re-run. The run then continues with the remaining stages.";
    case "rollback":
      return `Runs the rollback action of every stage from ${name(current)} back down to ${name(nodes[0])}, in reverse ` +
        "order. The run ends “Rolled back” and releases the cluster's maintenance lock, or fails if a rollback step fails.";
    case "continue_rollback":
      return `The rollback failed at ${name(current)}. Runs its rollback action again, then those of the stages ` +
        `below it down to ${name(nodes[0])}. The run ends “Rolled back” and releases the cluster's maintenance lock, ` +
        "or fails again if a rollback step fails.";
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

// A RETRY after a failed rollback runs forward (as obshell does) and leaves the stages already rolled back undone.
function actionWarning(action) {
  if (action !== "retry") return "";
  const nodes = sortedNodes();
  const current = nodes.find((n) => n.seq === state.dag.stage);
  const undone = (state.actions.retry_leaves_rolled_back || [])
    .map((seq) => nodes.find((n) => n.seq === seq)).filter(Boolean);
  if (!undone.length) return "";
  const name = (n) => `“${n.seq}. ${n.name}”`;
  const one = undone.length === 1;
  const from = current ? name(current) : "the current stage";
  return `Warning: this run failed while rolling back. Retry runs it forward from ${from}, as obshell does, and ` +
    `does not re-apply the stage${one ? "" : "s"} already rolled back ` +
    `(${undone.map(name).join(", ")}): the run can end Succeeded with ${one ? "that stage" : "those stages"} ` +
    "undone. To finish undoing the run instead, use Continue rollback.";
}

let pendingAction = null;

export function openConfirm(action, node = null) {
  const dialog = role("confirm");
  pendingAction = { action, nodeId: node ? node.id : null };
  role("confirm-title", dialog).textContent = ACTION_TITLES[action];
  const warning = actionWarning(action);
  role("confirm-warning", dialog).textContent = warning;
  role("confirm-warning", dialog).hidden = !warning;
  role("confirm-text", dialog).textContent = actionText(action, node);
  role("confirm-reason", dialog).value = "";
  role("confirm-error", dialog).hidden = true;
  role("confirm-submit", dialog).disabled = false;
  dialog.dataset.action = action;
  dialog.showModal();
  role("confirm-reason", dialog).focus();
}

export async function submitConfirm(event) {
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
    const response = await fetch(urls.operate, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
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
