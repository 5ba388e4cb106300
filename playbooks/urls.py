from django.urls import path

from . import views

urlpatterns = [
    path("issues/<str:key>/playbook/<int:item_id>/", views.tick, name="playbook_tick"),
]
