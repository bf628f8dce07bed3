"""obshell's routes (spec 3), served at the root (the token picks the cluster) and again under
/clusters/<name>/ for callers that name the cluster, such as the dashboard's own pages. No trailing slashes.
The OpenAPI document is at /api/schema, plain (not enveloped), so OpenAPI tools can read it."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from upgrades.api import views_info, views_packages, views_tasks, views_upgrade, views_upgrade_support

v1 = [
    path("info", views_info.InfoView.as_view()),
    path("status", views_info.StatusView.as_view()),
    path("secret", views_info.SecretView.as_view()),
    path("ob/info", views_info.ObInfoView.as_view()),
    path("ob/upgrade/check", views_upgrade.UpgradeCheckView.as_view()),
    path("ob/upgrade", views_upgrade.UpgradeView.as_view()),
    # obshell's own upgrade (spec 5.7)
    path("agent/upgrade/check", views_upgrade.AgentUpgradeCheckView.as_view()),
    path("agent/upgrade", views_upgrade.AgentUpgradeView.as_view()),
    path("upgrade/package", views_packages.PackageUploadView.as_view()),
    path("upgrade/package/info", views_packages.PackageInfoView.as_view()),
    path("upgrade/package/<str:package_id>", views_packages.PackageDeleteView.as_view()),
    path("package", views_packages.PlainPackageUploadView.as_view()),
    path("upgrade/params/backup", views_upgrade_support.ParamsBackupView.as_view()),
    path("upgrade/params/restore", views_upgrade_support.ParamsRestoreView.as_view()),
    path("upgrade/env/check", views_upgrade_support.EnvCheckView.as_view()),
    path("agents/status", views_upgrade_support.AgentsStatusView.as_view()),
    path("task/dag/maintain/ob", views_tasks.MaintainObView.as_view()),
    path("task/dag/maintain/agent", views_tasks.MaintainAgentView.as_view()),
    path("task/dag/maintain/agents", views_tasks.AgentDagsView.as_view()),
    path("task/dag/unfinish", views_tasks.UnfinishedView.as_view()),
    path("task/dag/ob/unfinish", views_tasks.ObUnfinishedView.as_view()),
    path("task/dag/agent/unfinish", views_tasks.AgentDagsView.as_view()),
    path("task/dags/ob", views_tasks.AllObDagsView.as_view()),
    path("task/dags/agent", views_tasks.AgentDagsView.as_view()),
    path("task/dag/<str:generic_id>", views_tasks.DagView.as_view()),
    path("task/node/<str:generic_id>", views_tasks.NodeView.as_view()),
    path("task/sub_task/<str:generic_id>", views_tasks.SubTaskView.as_view()),
    path("task/sub_task/<str:generic_id>/logs", views_tasks.SubTaskLogsView.as_view()),
]

urlpatterns = [
    path("api/schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/", include(v1)),
    path("clusters/<slug:cluster_name>/api/v1/", include(v1)),
]
