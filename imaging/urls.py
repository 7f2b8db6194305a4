from django.urls import path

from . import views

app_name = "imaging"
urlpatterns = [
    path("upload/", views.dicom_upload, name="upload"),
    path("import/measurements/", views.measurement_import, name="measurement-import"),
    path("ingest-jobs/<int:pk>/", views.ingest_job, name="ingest-job"),
    path("patients/<int:pk>/radiomics/", views.patient_radiomics, name="patient-radiomics"),
    path("patients/<int:pk>/measurements/", views.patient_measurements, name="patient-measurements"),
    path("patients/<int:pk>/scans/", views.patient_scans, name="patient-scans"),
]
