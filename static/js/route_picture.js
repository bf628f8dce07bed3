// The route picture scrolls sideways when the graph is wider than the card: start it at the cluster's build
// (or the first stored version), which the server names in data-scroll-to.
for (const svg of document.querySelectorAll("svg.route-graph[data-scroll-to]")) {
  const box = svg.closest(".route-picture-scroll");
  if (box) box.scrollLeft = Number(svg.dataset.scrollTo) || 0;
}
