from django.urls import path

from . import views

urlpatterns = [
    path("issues/<str:key>/playbook/<int:item_id>/", views.tick, name="playbook_tick"),
    path("projects/<str:key>/templates/", views.template_list, name="template_list"),
    path("projects/<str:key>/templates/<str:type>/", views.template_edit, name="template_edit"),
]
