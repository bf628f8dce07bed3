from django.contrib import admin
from django.urls import include, path

from dashboard import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("", include("upgrades.api.urls")),
    path("admin/", admin.site.urls),
    path("", include("dashboard.pages.urls")),
]
