from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("upgrades.api.urls")),
    path("admin/", admin.site.urls),
    path("", include("dashboard.pages.urls")),
]
