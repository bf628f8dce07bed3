"""The top bar's search (/search?q=): a run by any of its numbers, a cluster by name.

A run has three numbers (README "Run numbers"): its dag_id (the number people and URLs use, /runs/<dag_id>/,
as `operate DAG_ID` and the API's "dag_id"), obshell's generic id ("1" + dag_id, the API's "id"), and, for a
run mirrored from a real cluster, the agent's own generic id (Dag.remote_dag_id). A query is tried as each;
every hit says which number matched, so "11" finds run 11 and run 1 (generic id 11) side by side, never one
silently for the other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.urls import reverse
from django.utils.translation import gettext as _

from upgrades.models import Cluster, Dag

CLUSTER_LIMIT = 20
QUERY_MAX_CHARS = 100
# "run 11", "#11", "Run #11" are the number 11.
_RUN_PREFIX = re.compile(r"^(?:run\s*)?#?\s*", re.IGNORECASE)


@dataclass
class SearchHit:
    kind: str  # "run" or "cluster"
    url: str
    title: str
    detail: str
    matched: list[str] = field(default_factory=list)


def _run_hit(dag: Dag, matched: str) -> SearchHit:
    ids = _("obshell generic id %(generic)s") % {"generic": dag.generic_id}
    if dag.remote_dag_id:
        ids += " · " + _("agent's id %(remote)s") % {"remote": dag.remote_dag_id}
    return SearchHit(
        kind="run",
        url=reverse("run", args=[dag.pk]),
        title=_("Run %(dag_id)s · %(name)s") % {"dag_id": dag.pk, "name": dag.name},
        detail=f"{dag.cluster.name} · {dag.state} · {ids}",
        matched=[matched],
    )


def search(query: str) -> list[SearchHit]:
    """Runs whose dag id, generic id or agent's id is `query`, then clusters whose name contains it."""
    query = query.strip()[:QUERY_MAX_CHARS]
    if not query:
        return []
    number = _RUN_PREFIX.sub("", query)
    by_dag: dict[int, SearchHit] = {}

    def add(dag: Dag, matched: str) -> None:
        if dag.pk in by_dag:
            by_dag[dag.pk].matched.append(matched)
        else:
            by_dag[dag.pk] = _run_hit(dag, matched)

    runs = Dag.objects.select_related("cluster").only("id", "name", "state", "remote_dag_id", "cluster__name")
    if number.isdigit() and len(number) < 19:
        for dag in runs.filter(pk=int(number)):
            add(dag, _("dag id"))
        if number.startswith("1") and len(number) > 1:
            for dag in runs.filter(pk=int(number[1:])):
                add(dag, _("obshell generic id"))
    for dag in runs.filter(remote_dag_id=number)[:CLUSTER_LIMIT] if number else []:
        add(dag, _("agent's id"))
    hits = list(by_dag.values())
    for cluster in Cluster.objects.filter(name__icontains=query).order_by("name")[:CLUSTER_LIMIT]:
        hits.append(
            SearchHit(
                kind="cluster",
                url=reverse("cluster", args=[cluster.name]),
                title=_("Cluster %(name)s") % {"name": cluster.name},
                detail=cluster.get_edition_display(),
                matched=[_("cluster name")],
            )
        )
    return hits
