from django.urls import include, path
from rest_framework.authtoken.views import obtain_auth_token

app_name = "api"
urlpatterns = [
    path("auth/token/", obtain_auth_token, name="token"),
    path("patients/", include("patients.api.urls")),
    path("imaging/", include("imaging.api.urls")),
    path("analytics/", include("analytics.api.urls")),
]
