from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("accounts.urls")),
    path("", include("surveys.urls")),
    path("", include("dashboard.urls")),
    path("", include("audit.urls")),
    path("operator/", admin.site.urls),
]
