from django.urls import include, path

from accounts.api.views import TokenCreateView

app_name = "api"
urlpatterns = [
    path("auth/token/", TokenCreateView.as_view(), name="token"),
    path("patients/", include("patients.api.urls")),
    path("imaging/", include("imaging.api.urls")),
    path("analytics/", include("analytics.api.urls")),
    path("exports/", include("exports.api.urls")),
]
