from django.urls import path

from . import views

urlpatterns = [
    path("", views.project_list, name="project_list"),
    # No trailing slash: cannot be taken for a project key.
    path("people.json", views.people_search, name="people_search"),
    path("<str:key>/", views.project_detail, name="project_detail"),
]
