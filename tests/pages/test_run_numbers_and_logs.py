"""One number for a run (its dag_id in pages, URLs and links; obshell's generic id and the agent's id beside it),
the top bar's search, and a run's logs as a whole: search across sub-tasks and attempts, the window behind a
#log-<id> link, and every log in one zip."""

import io
import zipfile

import pytest
from django.test import Client

from tests.live.helpers import append_log, make_dag
from tests.support.factories import make_cluster, make_user
from upgrades.models import Dag, SubTask, TaskLog
from upgrades.notifications.outbox import run_url
from upgrades.operations import archive as archive_module
from upgrades.operations import run_logs

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer():
    client = Client()
    client.force_login(make_user("viewer"))
    return client


def _dags(count, cluster=None):
    cluster = cluster or make_cluster()
    return [make_dag(nodes=2, cluster=cluster) for _ in range(count)]


# ---------- one number ----------


def test_the_run_page_shows_its_dag_id_with_the_generic_and_agent_ids_labelled(viewer):
    dag = make_dag()
    Dag.objects.filter(pk=dag.pk).update(remote_dag_id="1987")
    html = viewer.get(f"/runs/{dag.pk}/").content.decode()
    assert f"<title>Run {dag.pk} · " in html
    assert f"Run {dag.pk}</span> · {dag.name}" in html
    assert f"obshell generic id {dag.generic_id} · agent's id 1987" in html


def test_links_to_runs_in_lists_say_the_dag_id(viewer):
    dag = make_dag()
    html = viewer.get("/runs/").content.decode()
    assert f'<a href="/runs/{dag.pk}/">run {dag.pk}</a>' in html
    assert f"generic id {dag.generic_id}" in html
    html = viewer.get(f"/clusters/{dag.cluster.name}/").content.decode()
    assert f'href="/runs/{dag.pk}/">run {dag.pk}</a>' in html


def test_notification_links_use_the_dag_id(settings):
    settings.DASHBOARD_URL = "https://dash.example"
    assert run_url(42) == "https://dash.example/runs/42/"


def test_the_generic_and_agent_ids_redirect_permanently_to_the_dag_id(viewer):
    dags = _dags(2)
    dag = dags[0]
    Dag.objects.filter(pk=dag.pk).update(remote_dag_id="1abc")
    response = viewer.get(f"/runs/generic/{dag.generic_id}/")
    assert (response.status_code, response["Location"]) == (301, f"/runs/{dag.pk}/")
    response = viewer.get("/runs/agent/1abc/")
    assert (response.status_code, response["Location"]) == (301, f"/runs/{dag.pk}/")
    assert viewer.get("/runs/generic/99999999/").status_code == 404
    assert viewer.get("/runs/generic/2/").status_code == 404  # not a generic id: they start with 1
    assert viewer.get("/runs/agent/nope/").status_code == 404
    # The old URL form already carried the dag_id: it still opens that very run, no redirect.
    assert viewer.get(f"/runs/{dags[1].pk}/").status_code == 200


# ---------- search ----------


def test_search_by_dag_id_or_generic_id_jumps_straight_to_the_run(viewer):
    dag = make_dag()  # the only run: no other number can match
    for query in (str(dag.pk), f"run {dag.pk}", f"#{dag.pk}", dag.generic_id):
        response = viewer.get("/search", {"q": query})
        assert (response.status_code, response["Location"]) == (302, f"/runs/{dag.pk}/"), query


def test_a_number_that_is_one_runs_dag_id_and_anothers_generic_id_lists_both_labelled(viewer):
    first = make_dag()
    # The run whose dag_id is the first run's generic id ("1" + its dag_id), as in "/runs/1/ said run 11".
    other = Dag.objects.create(
        pk=int(first.generic_id), cluster=first.cluster, name="another run", max_stage=1, version="4.3.0.1", release="1"
    )
    response = viewer.get("/search", {"q": first.generic_id})
    html = response.content.decode()
    assert response.status_code == 200
    first_at, other_at = html.index(f'href="/runs/{first.pk}/"'), html.index(f'href="/runs/{other.pk}/"')
    assert other_at < first_at  # the dag id first, then the generic id
    assert html.count("matched by dag id") == 1 and html.count("matched by obshell generic id") == 1
    assert f"Run {other.pk} · another run" in html and f"Run {first.pk} · {first.name}" in html


def test_search_by_agent_id_and_by_cluster_name(viewer):
    cluster = make_cluster("kilo-east")
    dag = make_dag(cluster=cluster)
    Dag.objects.filter(pk=dag.pk).update(remote_dag_id="1z9")
    response = viewer.get("/search", {"q": "1z9"})
    assert (response.status_code, response["Location"]) == (302, f"/runs/{dag.pk}/")
    response = viewer.get("/search", {"q": "kilo-e"})
    assert (response.status_code, response["Location"]) == (302, "/clusters/kilo-east/")
    make_cluster("kilo-west")
    html = viewer.get("/search", {"q": "kilo"}).content.decode()
    assert "Cluster kilo-east" in html and "Cluster kilo-west" in html and "matched by cluster name" in html


def test_search_with_no_match_says_so_and_the_top_bar_has_the_box(viewer):
    html = viewer.get("/search", {"q": "no-such-thing"}).content.decode()
    assert "Nothing matches “no-such-thing”" in html
    assert 'role="search" method="get" action="/search"' in viewer.get("/runs/").content.decode()


# ---------- logs ----------


@pytest.fixture
def run_with_logs():
    dag = make_dag(nodes=2)
    first, second = list(SubTask.objects.filter(dag=dag).order_by("node__seq", "id"))[:2]
    append_log(first.pk, "downloading oceanbase-ce")
    append_log(first.pk, "checksum MISMATCH on oceanbase-ce", level="ERROR")
    append_log(first.pk, "rolled back the download", phase="rollback")
    append_log(first.pk, "checksum ok on retry", execute_times=2)
    append_log(second.pk, "another checksum line")
    append_log(second.pk, "nothing here")
    return dag, first, second


def test_log_search_finds_lines_of_every_sub_task_and_attempt_and_marks_the_hits(viewer, run_with_logs):
    dag, first, second = run_with_logs
    result = run_logs.search_run_logs(dag.pk, "CHECKSUM")
    assert [(hit.sub_task_id, hit.execute_times, hit.phase) for hit in result.hits] == [
        (first.pk, 1, "run"), (first.pk, 2, "run"), (second.pk, 1, "run"),
    ]  # fmt: skip
    assert result.hits[0].pieces == (("ERROR: ", False), ("checksum", True), (" MISMATCH on oceanbase-ce", False))
    assert not result.truncated

    html = viewer.get(f"/runs/{dag.pk}/logs/", {"q": "checksum"}).content.decode()
    assert '<mark class="hit">checksum</mark>' in html
    line = TaskLog.objects.get(text__startswith="checksum ok")
    assert f'href="/runs/{dag.pk}/#log-{line.pk}"' in html
    assert "attempt 2" in html and "3 lines match" in html
    assert (
        "No log line of this run contains “zzz”" in viewer.get(f"/runs/{dag.pk}/logs/", {"q": "zzz"}).content.decode()
    )


def test_log_search_is_bounded(run_with_logs):
    dag, first, _ = run_with_logs
    for n in range(7):
        append_log(first.pk, f"checksum line {n}")
    result = run_logs.search_run_logs(dag.pk, "checksum", limit=5)
    assert (len(result.hits), result.truncated) == (5, True)
    long = run_logs._pieces("x" * 2000 + "needle" + "y" * 2000, __import__("re").compile("needle"))
    assert sum(len(text) for text, _ in long) < 2 * run_logs.HIT_CONTEXT_CHARS
    assert ("needle", True) in long


def test_the_line_window_behind_a_deep_link(viewer, run_with_logs):
    dag, first, _ = run_with_logs
    line = TaskLog.objects.get(text__startswith="checksum MISMATCH")
    data = viewer.get(f"/runs/{dag.pk}/logs/lines/{line.pk}/").json()
    assert (data["sub_task_id"], data["node_id"], data["at_start"], data["at_end"]) == (
        first.pk,
        first.node_id,
        True,
        True,
    )
    assert [row["line"] for row in data["lines"]] == [
        "downloading oceanbase-ce", "ERROR: checksum MISMATCH on oceanbase-ce", "rolled back the download",
        "checksum ok on retry",
    ]  # fmt: skip
    other = make_dag(nodes=1)
    assert viewer.get(f"/runs/{other.pk}/logs/lines/{line.pk}/").status_code == 404  # not this run's line
    window = run_logs.line_window(dag.pk, line.pk, around=1)
    assert [row.id for row in window.lines] == [line.pk - 1, line.pk, line.pk + 1]
    assert (window.at_start, window.at_end) == (True, False)


def test_every_log_as_one_zip_one_file_per_sub_task_attempt(viewer, run_with_logs):
    dag, first, second = run_with_logs
    response = viewer.get(f"/runs/{dag.pk}/logs.zip")
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="run-{dag.pk}-logs.zip"'
    assert response.streaming
    bundle = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    agent = f"{first.agent_ip}_{first.agent_port}"
    base = f"run-{dag.pk}/01-stage-1/{agent}-subtask-{first.generic_id}"
    names = set(bundle.namelist())
    assert {f"{base}-attempt-1.log", f"{base}-attempt-1-rollback.log", f"{base}-attempt-2.log"} <= names
    assert f"run-{dag.pk}/run.txt" in names
    assert (
        bundle.read(f"{base}-attempt-1.log")
        .decode()
        .splitlines()[1]
        .endswith(" ERROR: checksum MISMATCH on oceanbase-ce")
    )
    assert bundle.read(f"{base}-attempt-2.log").decode().endswith(" checksum ok on retry\n")
    second_name = (
        f"run-{dag.pk}/01-stage-1/{second.agent_ip}_{second.agent_port}-subtask-{second.generic_id}-attempt-1.log"
    )
    assert bundle.read(second_name).decode().count("\n") == 2
    assert f"obshell generic id {dag.generic_id}" in bundle.read(f"run-{dag.pk}/run.txt").decode()
    assert bundle.testzip() is None


def test_a_pruned_runs_logs_are_searched_and_zipped_from_its_archive(viewer, run_with_logs, monkeypatch):
    dag, first, _ = run_with_logs
    rows = list(TaskLog.objects.filter(sub_task__dag=dag).order_by("id"))
    archived = [
        archive_module.ArchivedLog(
            id=r.pk, sub_task_id=r.sub_task_id, execute_times=r.execute_times, phase=r.phase,
            created_at=r.created_at, level=r.level, text=r.text,
        )
        for r in rows
    ]  # fmt: skip
    TaskLog.objects.filter(sub_task__dag=dag).delete()
    monkeypatch.setattr(archive_module, "archived_dag_ids", lambda ids: set(ids) & {dag.pk})
    monkeypatch.setattr(
        archive_module,
        "archived_logs",
        lambda dag_id, sub_task_ids=None: iter(
            [a for a in archived if sub_task_ids is None or a.sub_task_id in sub_task_ids]
        ),
    )
    assert len(run_logs.search_run_logs(dag.pk, "checksum").hits) == 3
    window = run_logs.line_window(dag.pk, rows[1].pk)
    assert [line.id for line in window.lines] == [r.pk for r in rows if r.sub_task_id == first.pk]
    bundle = zipfile.ZipFile(io.BytesIO(b"".join(viewer.get(f"/runs/{dag.pk}/logs.zip").streaming_content)))
    assert sum(name.endswith(".log") for name in bundle.namelist()) == 4
