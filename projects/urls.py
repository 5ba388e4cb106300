from django.urls import path

from . import shape_views, views

urlpatterns = [
    path("", views.project_list, name="project_list"),
    # No trailing slash: cannot be taken for a project key.
    path("people.json", views.people_search, name="people_search"),
    path("<str:key>/", views.project_detail, name="project_detail"),
    path("<str:key>/components/", shape_views.component_list, name="project_components"),
    path(
        "<str:key>/components/<int:pk>/", shape_views.component_edit, name="project_component_edit"
    ),
    path(
        "<str:key>/components/<int:pk>/archive/",
        shape_views.component_archive,
        name="project_component_archive",
    ),
    path("<str:key>/versions/", shape_views.version_list, name="project_versions"),
    path(
        "<str:key>/versions/<int:pk>/edit/", shape_views.version_edit, name="project_version_edit"
    ),
]
