from django.contrib import admin
from django.urls import include, path

from api.main import api
from reports.version_views import version_detail

from . import views

urlpatterns = [
    # First: every intake event resolves its URL, and the page patterns would be tried first.
    path("api/v1/", api.urls),
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("accounts.urls")),
    path("projects/", include("projects.urls")),
    path("projects/<str:key>/versions/<int:pk>/", version_detail, name="version_detail"),
    path("", include("issues.urls")),
    path("", include("workflows.urls")),
    path("", include("customfields.urls")),
    path("", include("playbooks.urls")),
    path("notifications/", include("notifications.urls")),
    path("dashboard/", include("reports.urls")),
    path("", include("intake.urls")),
    path("", include("webhooks.urls")),
    path("", include("mailin.urls")),
    path("", include("boards.urls")),
    path("admin/", admin.site.urls),
]

handler500 = "tracker.views.server_error"
