// Fault drill panel (templates/pages/_faults.html): the server list follows the chosen stage (only the agents
// that run it), and arming asks once, in words. Without this script the form still works, unfiltered.

for (const form of document.querySelectorAll("[data-fault-form]")) {
  const node = form.querySelector("select[name=node]");
  const server = form.querySelector("select[name=server]");
  const help = form.querySelector("[data-server-help]");

  const filterServers = () => {
    const option = node.selectedOptions[0];
    const allowed = new Set(JSON.parse((option && option.dataset.servers) || "[]").map(String));
    for (const choice of server.options) {
      if (!choice.value) continue;
      const runsIt = allowed.has(choice.value);
      choice.hidden = !runsIt;
      choice.disabled = !runsIt;
    }
    if (server.selectedOptions[0] && server.selectedOptions[0].disabled) server.value = "";
    if (help) {
      help.textContent = allowed.size === 1
        ? "One agent runs this stage: every server means that one."
        : `${allowed.size} agents run this stage; pick one to spoil only its sub-task.`;
    }
  };
  node.addEventListener("change", filterServers);
  filterServers();

  form.addEventListener("submit", (event) => {
    const kind = form.querySelector("input[name=kind]:checked");
    const label = kind ? kind.closest("label").querySelector("strong").textContent.trim() : "Fail";
    const times = form.querySelector("input[name=times]").value;
    const where = server.value ? `on ${server.selectedOptions[0].textContent.trim()}` : "on every server of the stage";
    const text = `Arm on ${form.dataset.cluster}: ${label} ×${times} at “${node.value}” ${where}.\n\n`
      + "The next run that reaches this stage meets it. Arm it?";
    if (!window.confirm(text)) event.preventDefault();
  });
}

// Back from arming or disarming (#faults, #fault-<id>): the run page renders its timeline after load, which moves
// the panel down; bring it into view once that is done, and put focus on the fault just armed.
const hash = window.location.hash;
if (/^#fault(s|-\d+)$/.test(hash)) {
  window.addEventListener("load", () => {
    setTimeout(() => {
      const target = document.querySelector(hash);
      if (!target) return;
      target.scrollIntoView({ block: "center" });
      if (target.matches(".armed-fault")) target.focus({ preventScroll: true });
    }, 150);
  });
}
