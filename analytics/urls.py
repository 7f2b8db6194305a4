from django.urls import path

from . import views

app_name = "analytics"
urlpatterns = [
    path("worklist/", views.worklist, name="worklist"),
    path("worklist/alerts/<int:pk>/acknowledge/", views.worklist_acknowledge, name="worklist-acknowledge"),
    path("cohort/", views.cohort, name="cohort"),
    path("cohort/km/", views.cohort_km, name="cohort-km"),
    path("analyses/", views.analyses, name="analyses"),
    path("analyses/<int:pk>/", views.analysis_run, name="analysis-run"),
    path("analyses/<int:pk>/report/", views.analysis_run_report, name="analysis-run-report"),
    path("analyses/<int:pk>/rerun/", views.analysis_run_rerun, name="analysis-run-rerun"),
    path("patients/<int:pk>/response/", views.patient_response, name="patient-response"),
    path("patients/<int:pk>/history/", views.patient_history, name="patient-history"),
    path("patients/<int:pk>/timeline/", views.patient_timeline, name="patient-timeline"),
    path("patients/<int:pk>/deltas/", views.patient_deltas, name="patient-deltas"),
    path("patients/<int:pk>/models/", views.patient_models, name="patient-models"),
]
