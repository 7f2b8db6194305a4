"""Reads of the patients app for pages and the API. Query counts do not grow with the cohort."""
from django.db.models import Prefetch

from imaging.models import Lesion, LesionMeasurement, Timepoint

from .filtersets import PatientFilterSet
from .models import Patient, TreatmentRegimen


def patient_list(*, filters=None):
    """Filtered patients with the list columns; returns the FilterSet (``.qs`` is the queryset)."""
    return PatientFilterSet(filters or {}, queryset=Patient.objects.with_list_columns())


def patient_detail(*, pk):
    """Everything the patient page shows, in a fixed number of queries."""
    patient = (
        Patient.objects.select_related("site", "outcome")
        .prefetch_related(
            Prefetch("regimens", queryset=TreatmentRegimen.objects.prefetch_related("agents")),
            "biomarkers__kind",
            "adverse_events",
        )
        .get(pk=pk)
    )
    timepoints = list(Timepoint.objects.filter(patient=patient).select_related("regimen").order_by("date"))
    lesions = list(Lesion.objects.filter(patient=patient).select_related("appeared_at").order_by("role", "label"))
    measurements = LesionMeasurement.objects.filter(lesion__patient=patient).only(
        "lesion_id", "timepoint_id", "size_mm", "status", "non_target_status", "source"
    )
    by_cell = {(m.lesion_id, m.timepoint_id): m for m in measurements}
    rows = [
        {"lesion": lesion, "cells": [by_cell.get((lesion.pk, tp.pk)) for tp in timepoints]} for lesion in lesions
    ]
    target_sums = []
    for tp in timepoints:
        total, complete = 0, True
        for lesion in lesions:
            if lesion.role != "target":
                continue
            m = by_cell.get((lesion.pk, tp.pk))
            if m is None or m.status == "not-assessed":
                complete = False
            elif m.status == "too-small-to-measure":
                total += 5  # RECIST 1.1 §1.3 default
            elif m.size_mm is not None:
                total += m.size_mm
        target_sums.append(total if complete else None)
    try:
        outcome = patient.outcome
    except Patient.outcome.RelatedObjectDoesNotExist:
        outcome = None
    return {
        "patient": patient,
        "outcome": outcome,
        "timepoints": timepoints,
        "lesion_rows": rows,
        "target_sums": target_sums,
    }
