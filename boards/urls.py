from django.urls import path

from . import views

urlpatterns = [
    path("board/", views.board, name="board"),
    path("board/move/<str:key>/<str:to>/", views.board_move, name="board_move"),
    path("projects/<str:key>/board/", views.board, name="project_board"),
    path("projects/<str:key>/board/limits/", views.column_limits, name="board_limits"),
]
