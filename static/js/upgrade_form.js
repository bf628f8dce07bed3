// The upgrade forms (OceanBase, and obshell's own): show the stop-service warning with its choice, and once a
// plan is shown, keep its Upgrade button tied to the previewed parameters (changing any asks for a new preview).

const DEFAULT_PLAN_FIELDS = ["package", "mode", "upgrade_dir", "freeze_server"];

for (const form of document.querySelectorAll("[data-upgrade-form]")) {
  const warning = form.querySelector("[data-stopservice-warning]");
  const stale = form.querySelector("[data-preview-stale]");
  // The plan's Upgrade button names the form it submits.
  const upgrade = document.querySelector(`[data-upgrade-button][form="${form.id}"]`);
  const planned = new FormData(form);
  const planFields = form.dataset.planFields ? form.dataset.planFields.split(" ") : DEFAULT_PLAN_FIELDS;

  const changedSincePreview = () => {
    const now = new FormData(form);
    return planFields.some((name) => String(now.getAll(name)) !== String(planned.getAll(name)));
  };

  form.addEventListener("change", () => {
    const mode = form.querySelector("input[name=mode]:checked");
    if (warning) warning.hidden = !(mode && mode.value === "STOPSERVICE");
    if (upgrade && stale) {
      const changed = changedSincePreview();
      upgrade.disabled = changed;
      stale.hidden = !changed;
    }
  });
  form.addEventListener("input", () => form.dispatchEvent(new Event("change")));

  // Stop service interrupts traffic, obshell restarts every agent: the final click asks once more, in words.
  if (upgrade && upgrade.dataset.confirm) {
    upgrade.addEventListener("click", (event) => {
      if (!window.confirm(upgrade.dataset.confirm)) event.preventDefault();
    });
  }
}

// A preview (or a refused start) answers with the plan: bring it into view and put focus there.
const plan = document.getElementById("plan");
if (plan) plan.focus();
