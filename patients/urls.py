from django.urls import path

from . import views

app_name = "patients"
urlpatterns = [
    path("", views.patient_list, name="patient-list"),
    path("<int:pk>/", views.patient_detail, name="patient-detail"),
    path("<int:pk>/care-team/", views.care_team, name="care-team"),
    path("import/", views.clinical_import, name="clinical-import"),
]
