from django.urls import path

from . import views

app_name = "measures"
urlpatterns = [
    path("s/done/", views.survey_done, name="survey_done"),
    path("s/<str:token>/", views.survey, name="survey"),
]
