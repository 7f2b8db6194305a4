from django.urls import path

from . import views

app_name = "exports"
urlpatterns = [
    path("", views.exports, name="exports"),
    path("<int:pk>/", views.export, name="export"),
    path("<int:pk>/download/", views.export_download, name="export-download"),
]
