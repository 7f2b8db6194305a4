from django.urls import path

from . import views

app_name = "imaging"
urlpatterns = [
    path("upload/", views.dicom_upload, name="upload"),
    path("import/measurements/", views.measurement_import, name="measurement-import"),
    path("ingest-jobs/", views.ingest_jobs_recent, name="ingest-jobs-recent"),
    path("ingest-jobs/<int:pk>/", views.ingest_job, name="ingest-job"),
    path("patients/<int:pk>/radiomics/", views.patient_radiomics, name="patient-radiomics"),
    path("patients/<int:pk>/measurements/", views.patient_measurements, name="patient-measurements"),
    path("patients/<int:pk>/measurements/<int:lesion_pk>/<int:timepoint_pk>/", views.measurement_cell,
         name="measurement-cell"),
    path("patients/<int:pk>/timepoints/add/", views.timepoint_add, name="timepoint-add"),
    path("patients/<int:pk>/segments/<int:segment_pk>/accept/", views.segment_accept, name="segment-accept"),
    path("patients/<int:pk>/lesions/add/", views.lesion_add, name="lesion-add"),
    path("patients/<int:pk>/scans/", views.patient_scans, name="patient-scans"),
    path("series/<int:pk>/viewer/", views.series_viewer, name="series-viewer"),
    path("series/<int:pk>/slices/<int:z>.png", views.series_slice, name="series-slice"),
]
