from django.urls import path

from . import views

app_name = "dashboard"
urlpatterns = [
    path("caseload/", views.caseload, name="caseload"),
    path("cases/<int:case_id>/", views.case_detail, name="case"),
    path("cases/<int:case_id>/sessions/", views.schedule_session, name="schedule_session"),
    path("sessions/<int:session_id>/status/", views.record_session, name="record_session"),
    path("sessions/<int:session_id>/send-checks/", views.send_checks, name="send_checks"),
    path("sessions/<int:session_id>/move/", views.reschedule_session, name="reschedule_session"),
    path("sessions/<int:session_id>/remove/", views.delete_session, name="delete_session"),
    path("flags/<int:signal_id>/acknowledge/", views.acknowledge_signal, name="acknowledge_signal"),
    path("flags/<int:signal_id>/resolve/", views.resolve_signal, name="resolve_signal"),
    path("settings/notifications/", views.notification_settings, name="notification_settings"),
]
