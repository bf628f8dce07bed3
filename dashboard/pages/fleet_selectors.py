"""Reads for the fleet page (`/`) and its CSV: filter, sort and paginate the clusters in the database, then read
what the rows of one page show (servers, builds, maintenance, last run, live progress) with a fixed number of
queries whatever the fleet's size.

A cluster's fleet state is one of FLEET_STATES, the first that holds, in this order:
  running      an unfinished run is pending, ready or running on it
  held         a failed run keeps its maintenance lock (an operator must retry, roll back or pass it)
  failed       its last run failed (and let go of the cluster)
  unreachable  a real cluster whose agent does not answer (Cluster.unreachable_since)
  upgradable   a stored package is reachable by a route from a build it runs (upgrades/planning/upgradable.py)
  up_to_date   none of the above
"""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.utils import timezone

from dashboard.pages.selectors import builds_summary
from upgrades.models import Cluster, Dag, Node, Server, Zone
from upgrades.models.dag import State
from upgrades.operations.eta import RunEta, run_etas
from upgrades.planning.upgradable import upgradable_builds
from upgrades.planning.versions import build_version_key, split_server_build
from upgrades.selectors.labels import filter_clusters_by_label
from upgrades.snapshots import iso_time

FLEET_STATES = ("running", "held", "failed", "unreachable", "upgradable", "up_to_date")
SORTS = ("name", "build", "state", "last_run")
PAGE_SIZE = 50
ACTIVE_STATES = (State.PENDING, State.READY, State.RUNNING)
# What a row shows of a cluster and of its runs (the other columns, JSON and secrets among them, stay unread).
ROW_CLUSTER_FIELDS = ("id", "name", "edition", "backend", "shared_storage", "unreachable_since", "contact_problem")
ROW_DAG_FIELDS = (
    "id",
    "cluster_id",
    "state",
    "stage",
    "max_stage",
    "to_version",
    "created_at",
    "holds_lock",
    "is_finished",
)


@dataclass(frozen=True)
class FleetQuery:
    """What the fleet page was asked for; every field already validated (dashboard/pages/forms.py)."""

    q: str = ""
    edition: str = ""
    state: str = ""
    label: str = ""
    sort: str = "name"
    descending: bool = False


def _active_runs():
    return Dag.objects.filter(cluster=OuterRef("pk"), is_finished=False, state__in=ACTIVE_STATES)


def _last_run(field):
    return Subquery(Dag.objects.filter(cluster=OuterRef("pk")).order_by("-id").values(field)[:1])


def _upgradable_condition(running_builds: list[str]) -> Q:
    condition = Q(pk__in=[])
    for edition, builds in upgradable_builds(running_builds).items():
        if builds:
            on_build = Server.objects.filter(cluster=OuterRef("pk"), build_version__in=sorted(builds))
            condition |= Q(edition=edition) & Exists(on_build)
    return condition


def _state_expression(running_builds: list[str]) -> Case:
    return Case(
        When(Exists(_active_runs()), then=Value("running")),
        When(
            Exists(Dag.objects.filter(cluster=OuterRef("pk"), holds_lock=True, state=State.FAILED)), then=Value("held")
        ),
        When(last_state=State.FAILED, then=Value("failed")),
        When(unreachable_since__isnull=False, then=Value("unreachable")),
        When(_upgradable_condition(running_builds), then=Value("upgradable")),
        default=Value("up_to_date"),
        output_field=CharField(),
    )


def running_builds() -> list[str]:
    """Every build a server of the fleet runs (a handful; an index-only read)."""
    return list(Server.objects.order_by().values_list("build_version", flat=True).distinct())


def _build_rank(running: list[str]) -> Subquery:
    """The rank (by obshell's version order) of the lowest build a cluster runs; few distinct builds, one CASE."""
    builds = sorted(running, key=lambda b: build_version_key("-".join(split_server_build(b))))
    rank = Case(
        *[When(build_version=build, then=Value(n)) for n, build in enumerate(builds)],
        default=Value(len(builds)),
        output_field=IntegerField(),
    )
    lowest = Server.objects.filter(cluster=OuterRef("pk")).annotate(rank=rank).order_by("rank").values("rank")[:1]
    return Subquery(lowest, output_field=IntegerField())


def fleet_clusters(query: FleetQuery) -> QuerySet[Cluster]:
    """The clusters the query selects, in its order, annotated with fleet_state, last_dag_id and zone_count."""
    zone_count = Zone.objects.filter(cluster=OuterRef("pk")).order_by().values("cluster").annotate(n=Count("id"))
    clusters = Cluster.objects.only(*ROW_CLUSTER_FIELDS).annotate(
        last_dag_id=_last_run("id"),
        last_state=_last_run("state"),
        zone_count=Subquery(zone_count.values("n"), output_field=IntegerField()),
    )
    builds = running_builds()
    clusters = clusters.annotate(fleet_state=_state_expression(builds))
    if query.q:
        text = query.q.strip()
        as_server_build = text.replace("-", "_", 1)
        on_build = Server.objects.filter(cluster=OuterRef("pk")).filter(
            Q(build_version__icontains=text) | Q(build_version__icontains=as_server_build)
        )
        clusters = clusters.filter(Q(name__icontains=text) | Exists(on_build))
    if query.edition:
        clusters = clusters.filter(edition=query.edition)
    if query.state:
        clusters = clusters.filter(fleet_state=query.state)
    if query.label:
        clusters = filter_clusters_by_label(clusters, query.label)
    return clusters.order_by(*_ordering(query, builds))


def _ordering(query: FleetQuery, builds: list[str]) -> list[Any]:
    def directed(expression):
        return expression.desc(nulls_last=True) if query.descending else expression.asc(nulls_last=True)

    name = F("name").desc() if query.descending and query.sort == "name" else F("name").asc()
    if query.sort == "build":
        return [directed(_build_rank(builds)), name]
    if query.sort == "state":
        rank = Case(
            *[When(fleet_state=state, then=Value(n)) for n, state in enumerate(FLEET_STATES)],
            output_field=IntegerField(),
        )
        return [directed(rank), name]
    if query.sort == "last_run":
        return [directed(_last_run("created_at")), name]
    return [name]


def fleet_rows(clusters: list[Cluster]) -> list[dict[str, Any]]:
    """What the fleet page shows for each of these clusters (one page of them): two queries however many, four
    more when some of them run an upgrade (its stalled stages and ETA)."""
    ids = [cluster.pk for cluster in clusters]
    servers: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for cluster_id, build, status in (
        Server.objects.filter(cluster_id__in=ids).order_by().values_list("cluster_id", "build_version", "status")
    ):
        servers[cluster_id].append((build, status))
    last_ids = [cluster.last_dag_id for cluster in clusters if cluster.last_dag_id]
    # The last runs, and the open ones (running, or failed and holding the lock: both unfinished), in one read.
    dags = list(
        Dag.objects.filter(Q(pk__in=last_ids) | Q(cluster_id__in=ids, is_finished=False))
        .order_by("id")
        .only(*ROW_DAG_FIELDS)
    )
    last = {dag.pk: dag for dag in dags}
    holding = {dag.cluster_id: dag for dag in dags if dag.holds_lock}
    active = {dag.cluster_id: dag for dag in dags if not dag.is_finished and dag.state in ACTIVE_STATES}
    stalled = _stalled_nodes([dag.pk for dag in active.values()])
    etas = run_etas([dag.pk for dag in active.values()])
    rows = []
    for cluster in clusters:
        on = servers.get(cluster.pk, [])
        run = active.get(cluster.pk)
        rows.append(
            {
                "cluster": cluster,
                "state": cluster.fleet_state,
                "zones": cluster.zone_count or 0,
                "servers": len(on),
                "builds": builds_summary(build for build, _ in on),
                "inactive": sum(1 for _, status in on if status != Server.Status.ACTIVE),
                "holding": holding.get(cluster.pk),
                "last": last.get(cluster.last_dag_id),
                "last_at": _local(last[cluster.last_dag_id].created_at) if cluster.last_dag_id in last else "",
                "progress": run_progress(run, etas.get(run.pk)) if run else None,
                "stalled": stalled.get(run.pk, []) if run else [],
            }
        )
    return rows


def _local(value) -> str:
    """A time as the rows show it, in the current time zone (what the date filter would do, at a fraction of its
    cost for fifty rows)."""
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


def run_progress(dag: Dag, eta: RunEta | None) -> dict[str, Any]:
    """Stages done out of the run's total (obshell's stage counts from 1; the stages before it are done), and
    its ETA (upgrades/operations/eta.py)."""
    done = max(dag.stage - 1, 0)
    percent = round(100 * done / dag.max_stage) if dag.max_stage else 0
    return {"dag": dag, "done": done, "total": dag.max_stage, "percent": percent, "eta": eta}


def _stalled_nodes(dag_ids: list[int]) -> dict[int, list[Node]]:
    """The stages reported stalled in their current run (durations.is_stalled), by run."""
    if not dag_ids:
        return {}
    found: dict[int, list[Node]] = defaultdict(list)
    for node in Node.objects.filter(
        dag_id__in=dag_ids, state=State.RUNNING, stalled_at__isnull=False, stalled_at__gte=F("start_time")
    ).order_by("seq"):
        found[node.dag_id].append(node)
    return found


def csv_rows(clusters: QuerySet[Cluster], *, chunk: int = 500) -> Iterator[list[Any]]:
    """The fleet's versions, one line per cluster, read a chunk of clusters at a time (for a streamed CSV): plain
    values, no model instances (a thousand clusters and their last runs would be two thousand)."""
    batch: list[tuple] = []
    columns = ("pk", "name", "edition", "fleet_state", "zone_count", "last_dag_id")
    for values in clusters.values_list(*columns).iterator(chunk_size=chunk):
        batch.append(values)
        if len(batch) == chunk:
            yield from _csv_lines(batch)
            batch = []
    if batch:
        yield from _csv_lines(batch)


def _csv_lines(batch: list[tuple]) -> Iterator[list[Any]]:
    builds: dict[int, list[str]] = defaultdict(list)
    for cluster_id, build in (
        Server.objects.filter(cluster_id__in=[values[0] for values in batch])
        .order_by()
        .values_list("cluster_id", "build_version")
    ):
        builds[cluster_id].append(build)
    last_ids = [values[5] for values in batch if values[5]]
    last = {
        pk: (state, at)
        for pk, state, at in Dag.objects.filter(pk__in=last_ids).values_list("pk", "state", "created_at")
    }
    for pk, name, edition, state, zones, last_id in batch:
        summary = builds_summary(builds.get(pk, []))
        run_state, run_at = last.get(last_id, ("", None))
        yield [
            name,
            edition,
            "; ".join(b["build"] if len(summary) == 1 else f"{b['build']} ({b['servers']})" for b in summary),
            len(builds.get(pk, [])),
            zones or 0,
            state,
            f"1{last_id}" if last_id in last else "",  # Dag.generic_id
            run_state,
            iso_time(run_at) if run_at else "",
        ]


CSV_HEADER = ["cluster", "edition", "build", "servers", "zones", "state", "last_run", "last_run_state", "last_run_at"]
