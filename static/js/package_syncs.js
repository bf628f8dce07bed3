// A real cluster's package pushes (templates/pages/_package_syncs.html): while any is queued or sending, the list is
// fetched again every two seconds (its own small fragment) so the progress bars move; it stops once all are done
// or failed. No dependencies, no build step.

const POLL_MS = 2000;
const region = document.querySelector('[data-live-region="package-syncs"]');

function active() {
  return region.querySelector('[data-sync-state="queued"], [data-sync-state="sending"]') !== null;
}

async function poll() {
  if (!active()) return;
  try {
    const response = await fetch(region.dataset.pollUrl, { credentials: "same-origin" });
    if (response.ok) region.innerHTML = await response.text();
  } catch (error) {
    // A failed poll keeps what is shown; the next one tries again.
  }
  setTimeout(poll, POLL_MS);
}

if (region) setTimeout(poll, POLL_MS);
