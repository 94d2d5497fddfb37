from django.urls import path

from . import clinic, exports, imports, manage, overview, reports, views

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
    # Case administration (dashboard/manage.py) and CSV import (dashboard/imports.py).
    path("cases/new/", manage.open_case, name="open_case"),
    path("cases/<int:case_id>/manage/", manage.manage_case, name="manage_case"),
    path("cases/<int:case_id>/assign/", manage.assign_case, name="assign_case"),
    path("cases/<int:case_id>/close/", manage.close_case, name="close_case"),
    path("cases/<int:case_id>/reopen/", manage.reopen_case, name="reopen_case"),
    path("cases/<int:case_id>/clients/", manage.add_participant, name="add_participant"),
    path("clients/<int:participant_id>/", manage.edit_participant, name="edit_participant"),
    path("clients/<int:participant_id>/remove/", manage.remove_participant, name="remove_participant"),
    path("import/", imports.import_cases, name="import_cases"),
    path("import/<int:import_id>/confirm/", imports.confirm_import, name="confirm_import"),
]

# Exports (dashboard/exports.py): clinic admins only.
urlpatterns += [
    path("exports/", exports.exports, name="exports"),
    path("exports/<slug:kind>/", exports.download, name="export_download"),
]

# The clinic admin's pages (dashboard/clinic.py).
urlpatterns += [
    path("clinic/", clinic.clinic_home, name="clinic_home"),
    path("clinic/settings/", clinic.clinic_settings, name="clinic_settings"),
]

# The clinic overview (dashboard/overview.py) and printable reports (dashboard/reports.py).
urlpatterns += [
    path("overview/", overview.clinic_overview, name="overview"),
    path("reports/clinic/", reports.clinic_report, name="report_clinic"),
    path("cases/<int:case_id>/report/", reports.case_report, name="report_case"),
]
