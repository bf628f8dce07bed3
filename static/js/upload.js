// Package upload with a progress bar: RPMs are hundreds of MB, so the page says how far the upload is.
// Success navigates to the list (the server keeps the message for it); a refusal replaces the upload card
// with the server's answer, so errors read exactly as they do without this script.

import { fmt, gettext } from "./i18n.js";

function upload(form) {
  const button = form.querySelector("button[type=submit]");
  const box = form.querySelector("[data-upload-progress]");
  const bar = box.querySelector("progress");
  const label = box.querySelector("[data-upload-label]");
  const xhr = new XMLHttpRequest();
  xhr.open("POST", form.action);
  xhr.setRequestHeader("X-Requested-With", "fetch");
  xhr.upload.addEventListener("progress", (e) => {
    if (!e.lengthComputable) return;
    bar.value = e.loaded / e.total;
    label.textContent = e.loaded < e.total
      ? fmt(gettext("%(percent)s% uploaded"), { percent: Math.floor((100 * e.loaded) / e.total) })
      : gettext("Checking the package…");
  });
  xhr.addEventListener("load", () => {
    const type = xhr.getResponseHeader("Content-Type") || "";
    if (xhr.status < 300 && type.startsWith("application/json")) {
      window.location.assign(JSON.parse(xhr.responseText).redirect);
      return;
    }
    const fresh = new DOMParser().parseFromString(xhr.responseText, "text/html").getElementById("upload-card");
    const card = document.getElementById("upload-card");
    if (!fresh || !card) {
      label.textContent = fmt(gettext("Upload failed (HTTP %(status)s)."), { status: xhr.status });
      button.disabled = false;
      return;
    }
    card.innerHTML = fresh.innerHTML;
    const alert = card.querySelector("[role=alert]");
    if (alert) {
      alert.setAttribute("tabindex", "-1");
      alert.focus();
    }
  });
  xhr.addEventListener("error", () => {
    label.textContent = gettext("Upload failed: the connection was lost.");
    button.disabled = false;
  });
  box.hidden = false;
  button.disabled = true;
  label.textContent = gettext("Starting upload…");
  xhr.send(new FormData(form));
}

// Delegated, so the form keeps working after a refusal replaced the card.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("[data-upload-form]");
  if (!form || !form.querySelector("input[type=file]").files.length) return;
  event.preventDefault();
  upload(form);
});
