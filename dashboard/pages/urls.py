from django.contrib.auth import views as auth_views
from django.urls import path

from dashboard.pages import (
    views_clusters,
    views_faults,
    views_firstrun,
    views_history,
    views_login_link,
    views_packages,
    views_runs,
    views_workers,
)

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("login/link/<str:secret>/", views_login_link.login_link, name="login_link"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views_clusters.cluster_list, name="clusters"),
    path("clusters/<slug:name>/", views_clusters.cluster_detail, name="cluster"),
    path("clusters/<slug:name>/obshell/", views_clusters.cluster_agent_upgrade, name="cluster_agent_upgrade"),
    path("clusters/<slug:name>/tokens/", views_clusters.token_create_view, name="token_create"),
    path("clusters/<slug:name>/tokens/<int:token_id>/revoke/", views_clusters.token_revoke_view, name="token_revoke"),
    path("clusters/<slug:name>/faults/", views_faults.fault_arm_view, name="fault_arm"),
    path("clusters/<slug:name>/faults/<int:fault_id>/disarm/", views_faults.fault_disarm_view, name="fault_disarm"),
    path("hints/<slug:key>/dismiss/", views_firstrun.hint_dismiss_view, name="hint_dismiss"),
    path("counters/", views_clusters.counters, name="counters"),
    path("runs/", views_history.run_list, name="runs"),
    path("runs/<int:dag_id>/", views_runs.run_page, name="run"),
    path("runs/<int:dag_id>/operate/", views_runs.run_operate, name="run_operate"),
    path("runs/<int:dag_id>/subtasks/<int:sub_task_id>/log.txt", views_runs.sub_task_log, name="run_sub_task_log"),
    path("packages/", views_packages.package_list, name="packages"),
    path("packages/upload/", views_packages.package_upload, name="package_upload"),
    path("packages/<int:package_id>/delete/", views_packages.package_delete_view, name="package_delete"),
    path("audit/", views_history.audit_list, name="audit"),
    path("workers/", views_workers.worker_list, name="workers"),
]
