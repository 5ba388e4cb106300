"""Intake and triage pages and the API token pages (the JSON API itself, `/api/v1/`, is
mounted first in tracker/urls.py)."""

from django.urls import include, path

from . import views

urlpatterns = [
    path("", include("api.urls")),
    path("projects/<str:key>/intake/", views.intake_page, name="intake_page"),
    path("projects/<str:key>/intake/tokens/", views.token_create, name="intake_token_create"),
    path(
        "projects/<str:key>/intake/tokens/<int:pk>/revoke/",
        views.token_revoke,
        name="intake_token_revoke",
    ),
    path("projects/<str:key>/intake/settings/", views.settings_update, name="intake_settings"),
    path("projects/<str:key>/intake/groups/<int:pk>/", views.group_detail, name="intake_group"),
    path("projects/<str:key>/intake/rules/", views.rules_page, name="intake_rules"),
    path(
        "projects/<str:key>/intake/rules/<int:pk>/delete/",
        views.rule_delete,
        name="intake_rule_delete",
    ),
    path("triage/", views.triage, name="triage"),
    path("triage/availability/", views.availability, name="intake_availability"),
]
