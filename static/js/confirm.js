// Forms marked data-confirm ask before they submit (kept out of the page: the CSP allows no inline script).
document.querySelectorAll("form[data-confirm]").forEach((form) => {
  form.addEventListener("submit", (event) => { if (!window.confirm(form.dataset.confirm)) event.preventDefault(); });
});
