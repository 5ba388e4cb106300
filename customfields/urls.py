from django.urls import path

from . import views

urlpatterns = [
    path("projects/<str:key>/fields/", views.field_list, name="customfield_list"),
    path("projects/<str:key>/fields/new/", views.field_edit, name="customfield_new"),
    path("projects/<str:key>/fields/<int:pk>/", views.field_edit, name="customfield_edit"),
    path(
        "projects/<str:key>/fields/<int:pk>/archive/",
        views.field_archive,
        name="customfield_archive",
    ),
]
