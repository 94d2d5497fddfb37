from django.urls import path

from . import views

app_name = "dashboard"
urlpatterns = [
    path("caseload/", views.caseload, name="caseload"),
    path("cases/<int:case_id>/", views.case_detail, name="case"),
    path("sessions/<int:session_id>/status/", views.record_session, name="record_session"),
]
