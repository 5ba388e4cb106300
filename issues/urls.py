from django.urls import path

from . import views

urlpatterns = [
    path("issues/", views.issue_list, name="issue_list"),
    path("issues/new/", views.issue_new, name="issue_new"),
    path("issues/export.csv", views.issue_export, name="issue_export"),
    path("issues/bulk/", views.issue_bulk, name="issue_bulk"),
    path("issues/similar/", views.issue_similar, name="issue_similar"),
    path("issues/filters/save/", views.filter_save, name="issue_filter_save"),
    path("issues/filters/<int:pk>/delete/", views.filter_delete, name="issue_filter_delete"),
    path("projects/<str:project_key>/issues/new/", views.issue_new, name="project_issue_new"),
    path("issues/<str:key>/", views.issue_detail, name="issue_detail"),
    path("issues/<str:key>/edit/", views.issue_edit, name="issue_edit"),
    path("issues/<str:key>/timeline/", views.issue_timeline, name="issue_timeline"),
    path("issues/<str:key>/comments/", views.issue_comment, name="issue_comment"),
    path("issues/<str:key>/attachments/", views.issue_attach, name="issue_attach"),
    path(
        "issues/<str:key>/attachments/<int:pk>/",
        views.attachment_download,
        name="attachment_download",
    ),
    path("issues/<str:key>/watch/", views.issue_watch, name="issue_watch"),
    path("issues/<str:key>/links/", views.issue_link, name="issue_link"),
    path("issues/<str:key>/links/<int:pk>/delete/", views.issue_unlink, name="issue_unlink"),
]
