from django.contrib.auth import views as auth_views
from django.urls import path

from dashboard.pages import views_clusters, views_history, views_packages, views_runs

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views_clusters.cluster_list, name="clusters"),
    path("clusters/<slug:name>/", views_clusters.cluster_detail, name="cluster"),
    path("clusters/<slug:name>/tokens/", views_clusters.token_create_view, name="token_create"),
    path("clusters/<slug:name>/tokens/<int:token_id>/revoke/", views_clusters.token_revoke_view, name="token_revoke"),
    path("counters/", views_clusters.counters, name="counters"),
    path("runs/", views_history.run_list, name="runs"),
    path("runs/<int:dag_id>/", views_runs.run_page, name="run"),
    path("runs/<int:dag_id>/operate/", views_runs.run_operate, name="run_operate"),
    path("runs/<int:dag_id>/subtasks/<int:sub_task_id>/log.txt", views_runs.sub_task_log, name="run_sub_task_log"),
    path("packages/", views_packages.package_list, name="packages"),
    path("packages/upload/", views_packages.package_upload, name="package_upload"),
    path("packages/<int:package_id>/delete/", views_packages.package_delete_view, name="package_delete"),
    path("audit/", views_history.audit_list, name="audit"),
]
