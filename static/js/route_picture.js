// The route picture scrolls sideways when the graph is wider than its box. The server says where to start:
// data-scroll-to puts that x at the left edge (the cluster's build, so the route runs into view),
// data-scroll-center puts it in the middle (the first stored version on the packages page).
for (const svg of document.querySelectorAll("svg.route-graph[role=img]")) {
  const box = svg.closest(".route-picture-scroll");
  if (!box) continue;
  if (svg.dataset.scrollTo) box.scrollLeft = Number(svg.dataset.scrollTo) || 0;
  else if (svg.dataset.scrollCenter) box.scrollLeft = Number(svg.dataset.scrollCenter) - box.clientWidth / 2;
}
