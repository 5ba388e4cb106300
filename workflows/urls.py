from django.urls import path

from . import views

urlpatterns = [
    path("issues/<str:key>/transition/<str:to>/", views.transition, name="issue_transition"),
    path("issues/<str:key>/sla/", views.sla_box, name="issue_sla_box"),
    path("issues/<str:key>/sla/ledger/", views.sla_ledger, name="issue_sla_ledger"),
    path("issues/<str:key>/sla/hold/", views.hold, name="issue_sla_hold"),
    path("issues/<str:key>/sla/release/", views.release, name="issue_sla_release"),
    path("projects/<str:key>/workflow/", views.workflow_settings, name="workflow_settings"),
    path("projects/<str:key>/sla/", views.sla_settings, name="sla_settings"),
]
