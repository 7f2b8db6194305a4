"""Reads of the patients app for pages and the API. Query counts do not grow with the cohort."""
from django.db.models import Prefetch

from .filtersets import PatientFilterSet
from .models import Patient, TreatmentRegimen


def patient_list(*, filters=None):
    """Filtered patients with the list columns; returns the FilterSet (``.qs`` is the queryset)."""
    return PatientFilterSet(filters or {}, queryset=Patient.objects.with_list_columns())


def patient_header(*, pk):
    """The patient as the other apps' patient panels name it (study ID, site). Raises Patient.DoesNotExist."""
    return Patient.objects.select_related("site").get(pk=pk)


def patient_detail(*, pk):
    """The patients app's part of the patient page, in a fixed number of queries.

    Imaging (measurements, scans) and response are the imaging and analytics apps' own panels, which the page
    loads from their URLs.
    """
    patient = (
        Patient.objects.select_related("site", "outcome")
        .prefetch_related(
            Prefetch("regimens", queryset=TreatmentRegimen.objects.prefetch_related("agents")),
            "biomarkers__kind",
            "adverse_events",
        )
        .get(pk=pk)
    )
    try:
        outcome = patient.outcome
    except Patient.outcome.RelatedObjectDoesNotExist:
        outcome = None
    return {"patient": patient, "outcome": outcome}
