from django.urls import path

from . import views

urlpatterns = [
    path("issues/", views.issue_list, name="issue_list"),
    path("issues/<str:key>/", views.issue_detail, name="issue_detail"),
]
