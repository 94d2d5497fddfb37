from django.urls import path

from . import views

app_name = "surveys"
urlpatterns = [
    path("s/done/", views.survey_done, name="survey_done"),
    path("s/room/next/", views.room_next, name="room_next"),
    path("s/room/end/", views.room_end, name="room_end"),
    path("s/<str:token>/", views.survey, name="survey"),
    path(
        "sessions/<int:session_id>/participants/<int:participant_id>/complete-now/",
        views.complete_now,
        name="complete_now",
    ),
    path(
        "sessions/<int:session_id>/participants/<int:participant_id>/qr/",
        views.participant_qr,
        name="participant_qr",
    ),
]
