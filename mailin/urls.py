from django.urls import path

from . import views

urlpatterns = [
    path("projects/<str:key>/mail/", views.mail_settings, name="mail_settings"),
    path("projects/<str:key>/mail/who/", views.accept_from, name="mail_accept_from"),
    path(
        "projects/<str:key>/mail/addresses/<int:pk>/remove/",
        views.address_remove,
        name="mail_address_remove",
    ),
    path(
        "projects/<str:key>/mail/messages/<int:pk>/",
        views.quarantine_action,
        name="mail_quarantine_action",
    ),
    path("projects/<str:key>/mail/messages/<int:pk>/raw/", views.raw_message, name="mail_raw"),
]
