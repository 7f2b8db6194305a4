from django.urls import path

from . import views

app_name = "imaging"
urlpatterns = [
    path("upload/", views.dicom_upload, name="upload"),
    path("ingest-jobs/<int:pk>/", views.ingest_job, name="ingest-job"),
    path("patients/<int:pk>/radiomics/", views.patient_radiomics, name="patient-radiomics"),
]
