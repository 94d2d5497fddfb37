from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("accounts.urls")),
    path("", include("measures.urls")),
    path("", include("dashboard.urls")),
    path("operator/", admin.site.urls),
]
