// Acting on a run: retry, roll back, cancel, pass (the run or one stage). Each asks for a reason in a
// dialog that says what will happen, then posts to the page's operate URL; the result arrives as events.

import { fmt, gettext, ngettext } from "../i18n.js";
import { csrfToken, role, urls } from "./page.js";
import { sortedNodes, state } from "./store.js";

const ACTION_TITLES = {
  retry: gettext("Retry the failed stage"),
  rollback: gettext("Roll back the run"),
  continue_rollback: gettext("Continue the rollback"),
  cancel: gettext("Cancel the run"),
  pass: gettext("Pass the rest of the run"),
  pass_node: gettext("Pass this stage"),
};

function actionText(action, node) {
  const nodes = sortedNodes();
  const current = nodes.find((n) => n.seq === state.dag.stage);
  const name = (n) => (n ? `“${n.seq}. ${n.name}”` : gettext("the current stage"));
  switch (action) {
    case "retry":
      return fmt(gettext("Runs %(stage)s again. Its sub-tasks that failed first run their rollback action, then run " +
        "again; those that succeeded are not re-run. The run then continues with the remaining stages."), { stage: name(current) });
    case "rollback":
      return fmt(gettext("Runs the rollback action of every stage from %(stage)s back down to %(first)s, in reverse " +
        "order. The run ends “Rolled back” and releases the cluster's maintenance lock, or fails if a rollback step fails."),
      { stage: name(current), first: name(nodes[0]) });
    case "continue_rollback":
      return fmt(gettext("The rollback failed at %(stage)s. Runs its rollback action again, then those of the stages " +
        "below it down to %(first)s. The run ends “Rolled back” and releases the cluster's maintenance lock, " +
        "or fails again if a rollback step fails."), { stage: name(current), first: name(nodes[0]) });
    case "cancel":
      return fmt(gettext("Stops the run at %(stage)s: its ready and running sub-tasks are marked failed (“sub task cancelled”). " +
        "The run ends Cancelled and the cluster stays under maintenance until the run is retried, rolled back or passed."),
      { stage: name(current) });
    case "pass": {
      const later = nodes.filter((n) => n.seq > state.dag.stage).length;
      return fmt(ngettext("Marks %(stage)s and the %(later)s stage after it as passed without running them. " +
        "The run ends Succeeded (passed) and releases the cluster's maintenance lock.",
      "Marks %(stage)s and the %(later)s stages after it as passed without running them. " +
        "The run ends Succeeded (passed) and releases the cluster's maintenance lock.", later), { stage: name(current), later });
    }
    case "pass_node": {
      const next = nodes.find((n) => n.seq === node.seq + 1);
      return fmt(gettext("Marks %(stage)s as passed without running its failed sub-tasks again, and continues the run with " +
        "%(next)s."), { stage: name(node), next: next ? name(next) : gettext("the end of the run") });
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
  const from = current ? name(current) : gettext("the current stage");
  return fmt(ngettext("Warning: this run failed while rolling back. Retry runs it forward from %(from)s, as obshell does, and " +
    "does not re-apply the stage already rolled back (%(undone)s): the run can end Succeeded with that stage " +
    "undone. To finish undoing the run instead, use Continue rollback.",
  "Warning: this run failed while rolling back. Retry runs it forward from %(from)s, as obshell does, and " +
    "does not re-apply the stages already rolled back (%(undone)s): the run can end Succeeded with those stages " +
    "undone. To finish undoing the run instead, use Continue rollback.", undone.length), { from, undone: undone.map(name).join(", ") });
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
    errorBox.textContent = gettext("Please say why: the reason is recorded in the audit log.");
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
      errorBox.textContent = `${error.code ? `[${error.code}] ` : ""}${error.message || fmt(gettext("request failed (%(status)s)"), { status: response.status })}`;
      errorBox.hidden = false;
      submit.disabled = false;
      return;
    }
    dialog.close();
    notice(fmt(gettext("%(action)s: requested."), { action: ACTION_TITLES[pendingAction.action] }));
  } catch (error) {
    errorBox.textContent = gettext("The server could not be reached; nothing was changed. Try again.");
    errorBox.hidden = false;
    submit.disabled = false;
  }
}

function notice(text) {
  const box = role("notice");
  box.textContent = text;
  box.hidden = false;
}
