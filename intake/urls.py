"""Intake and triage pages and the API token pages (the JSON API itself, `/api/v1/`, is
mounted first in tracker/urls.py)."""

from django.urls import include, path

from . import sdk_views, views

urlpatterns = [
    path("", include("api.urls")),
    # Sentry SDKs (a DSN's path is the project's numeric id).
    path("api/<int:project_id>/envelope/", sdk_views.envelope, name="sdk_envelope"),
    path("api/<int:project_id>/store/", sdk_views.store, name="sdk_store"),
    path("projects/<str:key>/intake/", views.intake_page, name="intake_page"),
    path("projects/<str:key>/intake/tokens/", views.token_create, name="intake_token_create"),
    path(
        "projects/<str:key>/intake/tokens/<int:pk>/revoke/",
        views.token_revoke,
        name="intake_token_revoke",
    ),
    path("projects/<str:key>/intake/sdk/", views.sdk_page, name="intake_sdk"),
    path("projects/<str:key>/intake/sdk/dsn/", views.dsn_create, name="intake_dsn_create"),
    path(
        "projects/<str:key>/intake/sdk/dsn/<int:pk>/revoke/",
        views.dsn_revoke,
        name="intake_dsn_revoke",
    ),
    path(
        "projects/<str:key>/intake/sdk/protection/",
        views.sdk_protection,
        name="intake_sdk_protection",
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
