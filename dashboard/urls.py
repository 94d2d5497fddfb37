from django.urls import path

from . import clinic, views

app_name = "dashboard"
urlpatterns = [
    path("caseload/", views.caseload, name="caseload"),
    path("cases/<int:case_id>/", views.case_detail, name="case"),
    path("cases/<int:case_id>/sessions/", views.schedule_session, name="schedule_session"),
    path("sessions/<int:session_id>/status/", views.record_session, name="record_session"),
    path("sessions/<int:session_id>/send-checks/", views.send_checks, name="send_checks"),
    path("flags/<int:signal_id>/acknowledge/", views.acknowledge_signal, name="acknowledge_signal"),
    path("flags/<int:signal_id>/resolve/", views.resolve_signal, name="resolve_signal"),
    path("settings/notifications/", views.notification_settings, name="notification_settings"),
]

# The clinic admin's pages (dashboard/clinic.py).
urlpatterns += [
    path("clinic/", clinic.clinic_home, name="clinic_home"),
    path("clinic/settings/", clinic.clinic_settings, name="clinic_settings"),
]
