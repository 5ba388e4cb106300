from django.urls import path

from . import views

urlpatterns = [
    path("", views.inbox, name="notification_inbox"),
    path("read-all/", views.read_all, name="notification_read_all"),
    path("preferences/", views.preferences, name="notification_preferences"),
    path("<int:pk>/read/", views.read, name="notification_read"),
    path("<int:pk>/open/", views.open_notification, name="notification_open"),
    path("issues/<str:key>/", views.issue_notified, name="issue_notified"),
]
