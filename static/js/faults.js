// Fault drill panel (templates/pages/_faults.html): the server list follows the chosen stage (only the agents
// that run it), and arming asks once, in words. Without this script the form still works, unfiltered.

import { fmt, gettext } from "./i18n.js";

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
        ? gettext("One agent runs this stage: every server means that one.")
        : fmt(gettext("%(n)s agents run this stage; pick one to spoil only its sub-task."), { n: allowed.size });
    }
  };
  node.addEventListener("change", filterServers);
  filterServers();

  form.addEventListener("submit", (event) => {
    const kind = form.querySelector("input[name=kind]:checked");
    const label = kind ? kind.closest("label").querySelector("strong").textContent.trim() : gettext("Fail");
    const times = form.querySelector("input[name=times]").value;
    const where = server.value
      ? fmt(gettext("on %(server)s"), { server: server.selectedOptions[0].textContent.trim() })
      : gettext("on every server of the stage");
    const text = fmt(gettext("Arm on %(cluster)s: %(kind)s ×%(times)s at “%(stage)s” %(where)s."),
      { cluster: form.dataset.cluster, kind: label, times, stage: node.value, where })
      + `\n\n${gettext("The next run that reaches this stage meets it. Arm it?")}`;
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
