from django.urls import path

from . import views

app_name = "analytics"
urlpatterns = [
    path("worklist/", views.worklist, name="worklist"),
    path("cohort/", views.cohort, name="cohort"),
    path("patients/<int:pk>/response/", views.patient_response, name="patient-response"),
]
