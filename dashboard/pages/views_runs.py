"""The live run page (/runs/<dag_id>/): the server renders the snapshot into the page, static/js/run.js (and its
modules in static/js/run/) keeps it current from ws/dags/<dag_id>/. Operator buttons post here and call the same
services as the API. Also the run's logs as a whole: search, the window around one line (deep links), the zip.

A run's URL carries its dag_id (README "Run numbers"); obshell's generic id and a mirrored run's agent id have
their own paths, /runs/generic/<id>/ and /runs/agent/<id>/, which redirect permanently to /runs/<dag_id>/."""

import json

from django.conf import settings
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from dashboard.pages.access import role_required
from dashboard.pages.icons import icon_table
from upgrades.audit import Actor, source_address
from upgrades.errors import ObshellError
from upgrades.live.consumers import DEFAULT_HEARTBEAT_SECONDS
from upgrades.live.selectors import dag_snapshot, sub_task_lines
from upgrades.models import Dag, Node, SubTask
from upgrades.operations.eta import run_eta
from upgrades.operations.run_logs import line_text, line_window, run_logs_zip, search_run_logs
from upgrades.roles import has_role, user_role
from upgrades.services.dag_operators import dag_continue_rollback, dag_operate, node_pass

OPERATORS = {"retry": "RETRY", "rollback": "ROLLBACK", "cancel": "CANCEL", "pass": "PASS"}


def _log_url(dag_id):
    """The log download of any sub-task of the run, with "{sub_task_id}" for static/js/run to fill in."""
    return reverse("run_sub_task_log", args=[dag_id, 0]).replace("/0/", "/{sub_task_id}/")


@require_GET
@role_required("viewer")
def run_page(request, dag_id):
    snapshot = dag_snapshot(dag_id)
    if snapshot is None:
        raise Http404("no such run")
    context = {
        "snapshot": snapshot,
        "dag": snapshot["dag"],
        "can_operate": has_role(request.user, "operator"),
        "role": user_role(request.user) or "none",
        "heartbeat_seconds": getattr(settings, "LIVE_HEARTBEAT_SECONDS", DEFAULT_HEARTBEAT_SECONDS),
        "log_url": _log_url(dag_id),
        "state_icons": icon_table(),
        "eta": run_eta(dag_id),
    }
    return render(request, "pages/run.html", context)


@require_GET
@role_required("viewer")
def run_by_generic_id(request, generic_id):
    """obshell's generic id ("1" + dag_id) to the run's page, permanently."""
    if not (generic_id.isdigit() and generic_id.startswith("1") and len(generic_id) > 1 and len(generic_id) < 19):
        raise Http404("not an obshell generic id")
    dag = get_object_or_404(Dag, pk=int(generic_id[1:]))
    return redirect("run", dag_id=dag.pk, permanent=True)


@require_GET
@role_required("viewer")
def run_by_agent_id(request, remote_id):
    """A mirrored run's id on its agent to the run's page, permanently (the newest such run: agents restart
    their numbering only when their cluster is rebuilt)."""
    dag = Dag.objects.filter(remote_dag_id=remote_id).order_by("-id").first()
    if dag is None:
        raise Http404("no run with that agent id")
    return redirect("run", dag_id=dag.pk, permanent=True)


@require_GET
@role_required("viewer")
def run_logs(request, dag_id):
    """Search within every log of the run (every sub-task, every attempt), hits marked, linked to their line."""
    dag = get_object_or_404(Dag.objects.select_related("cluster"), pk=dag_id)
    query = request.GET.get("q", "")
    result = search_run_logs(dag.pk, query) if query.strip() else None
    return render(request, "pages/run_logs.html", {"dag": dag, "query": query.strip(), "result": result})


@require_GET
@role_required("viewer")
def run_log_line(request, dag_id, log_id):
    """The line log_id and the lines around it in its sub-task (JSON), for the run page's #log-<id> links."""
    window = line_window(dag_id, log_id)
    if window is None:
        return JsonResponse({"error": "no such line in this run"}, status=404)
    return JsonResponse(
        {
            "log_id": window.log_id,
            "sub_task_id": window.sub_task_id,
            "node_id": window.node_id,
            "at_start": window.at_start,
            "at_end": window.at_end,
            "lines": [
                {
                    "id": line.id,
                    "sub_task_id": line.sub_task_id,
                    "execute_times": line.execute_times,
                    "phase": line.phase,
                    "level": line.level,
                    "line": line_text(line),
                    "at": line.created_at.isoformat(),
                }
                for line in window.lines
            ],
        }
    )


@require_GET
@role_required("viewer")
def run_logs_download(request, dag_id):
    """Every log of the run as one zip, streamed (one file per sub-task attempt)."""
    dag = get_object_or_404(Dag.objects.select_related("cluster"), pk=dag_id)
    response = StreamingHttpResponse(run_logs_zip(dag), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="run-{dag.pk}-logs.zip"'
    return response


@require_POST
def run_operate(request, dag_id):
    if not request.user.is_authenticated:
        return JsonResponse({"ok": False, "error": {"message": "sign in first"}}, status=401)
    if not has_role(request.user, "operator"):
        return JsonResponse({"ok": False, "error": {"message": "acting on a run needs the operator role"}}, status=403)
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        body = {}
    action = str(body.get("action", "")).lower()
    reason = str(body.get("reason", "")).strip()
    if not reason:
        return JsonResponse({"ok": False, "error": {"message": "a reason is required"}}, status=400)
    actor = Actor.for_user(request.user, source_address=source_address(request))
    dag = get_object_or_404(Dag, pk=dag_id)
    try:
        if action == "pass_node":
            node = get_object_or_404(Node, pk=body.get("node_id"), dag_id=dag_id)
            node_pass(node=node, actor=actor, reason=reason)
        elif action == "continue_rollback":
            dag_continue_rollback(dag=dag, actor=actor, reason=reason)
        elif action in OPERATORS:
            dag_operate(dag=dag, operator=OPERATORS[action], actor=actor, reason=reason)
        else:
            return JsonResponse({"ok": False, "error": {"message": f"unknown action {action!r}"}}, status=400)
    except ObshellError as error:
        return JsonResponse(
            {"ok": False, "error": {"code": error.err_code, "message": error.message}}, status=error.status
        )
    return JsonResponse({"ok": True})


@require_GET
@role_required("viewer")
def sub_task_log(request, dag_id, sub_task_id):
    sub_task = get_object_or_404(SubTask, pk=sub_task_id, dag_id=dag_id)
    lines = []
    heading = None
    for log in sub_task_lines(sub_task):
        current = (log.execute_times, log.phase)
        if current != heading:
            heading = current
            lines.append(f"=== attempt {log.execute_times} ({log.phase}) ===")
        lines.append(f"{log.created_at.isoformat()} {log.line}")
    response = HttpResponse("\n".join(lines) + "\n", content_type="text/plain; charset=utf-8")
    filename = f"run-{dag_id}-subtask-{sub_task.generic_id}-{sub_task.agent_ip}.log.txt"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
