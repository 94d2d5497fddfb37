from django.urls import path

from . import views

app_name = "audit"
urlpatterns = [
    path("clinic/access-log/", views.access_log, name="log"),
    path("clinic/access-log/export/", views.export_access_log, name="export"),
]
