from django.urls import path

from . import views

urlpatterns = [
    path("projects/<str:key>/webhooks/", views.webhook_list, name="webhook_list"),
    path("projects/<str:key>/webhooks/<int:pk>/", views.webhook_detail, name="webhook_detail"),
    path("projects/<str:key>/webhooks/<int:pk>/ping/", views.webhook_ping, name="webhook_ping"),
    path(
        "projects/<str:key>/webhooks/<int:pk>/rotate/",
        views.webhook_rotate,
        name="webhook_rotate",
    ),
    path(
        "projects/<str:key>/webhooks/<int:pk>/deliveries/<int:delivery>/redeliver/",
        views.webhook_redeliver,
        name="webhook_redeliver",
    ),
]
