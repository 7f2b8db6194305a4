from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

admin.site.site_header = "radimmuno curation"
admin.site.site_title = "radimmuno curation"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="analytics:worklist", permanent=False), name="home"),  # home = worklist
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("accounts.urls")),
    path("patients/", include("patients.urls")),
    path("imaging/", include("imaging.urls")),
    path("analytics/", include("analytics.urls")),
    path("exports/", include("exports.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("radimmuno.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", login_required(SpectacularSwaggerView.as_view(url_name="api-schema")), name="api-docs"),
    path("api/redoc/", login_required(SpectacularRedocView.as_view(url_name="api-schema")), name="api-redoc"),
]

handler404 = "radimmuno.errors.not_found"
handler500 = "radimmuno.errors.server_error"
