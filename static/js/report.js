// The change report's Print button: the browser's print dialog, where "Save as PDF" makes the document.
for (const button of document.querySelectorAll('[data-role="print"]')) {
  button.hidden = false;
  button.addEventListener("click", () => window.print());
}
