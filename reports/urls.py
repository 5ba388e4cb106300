from django.urls import path

from . import views

app_name = "reports"

urlpatterns = [
    path("", views.dashboard_page, name="dashboard"),
    path("issues/", views.drill, name="drill"),
    path("<slug:slug>.csv", views.table_csv, name="csv"),
]
