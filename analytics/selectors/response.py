"""Reads of the analytics app: the engine's input built from the database, worklists, plot data."""
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from imaging import selectors as imaging_selectors
from patients.choices import ICI_CLASSES
from patients.models import TreatmentRegimen

from ..models import ResponseAssessment

_TARGET_MEASUREMENT = {
    "disappeared": "disappeared",
    "too-small-to-measure": "too-small-to-measure",
    "not-assessed": "not-assessed",
}


def ici_regimens(patient):
    """The patient's regimens containing an immune checkpoint inhibitor, oldest first."""
    return list(
        TreatmentRegimen.objects.filter(patient=patient, agents__drug_class__in=ICI_CLASSES).distinct().order_by(
            "start_date")
    )


def _size(value):
    """Sizes go to the engine as exact Decimals (it never sees a binary float)."""
    return value


def response_document(*, regimen):
    """The response engine's input (RESPONSE_RULES.md §5) for one patient's ICI regimen.

    Uses the assessments linked to ``regimen`` (pre-baseline, baseline, follow-up, unscheduled), the
    patient's lesions and their measurements, and the clinical inputs Lo Russo's definition needs.
    The study ID is the only identifier; nothing from PatientIdentity is read.
    """
    patient = regimen.patient
    timepoints, lesions, by_tp = imaging_selectors.regimen_measurements(regimen=regimen)
    baseline = next((tp for tp in timepoints if tp.kind == "baseline"), None)

    doc_timepoints = []
    for tp in timepoints:
        kind = {"unscheduled": "follow-up"}.get(tp.kind, tp.kind)
        entry = {"label": tp.date.isoformat(), "date": tp.date.isoformat(), "kind": kind, "lesions": [],
                 "new_lesions": []}
        if tp.kind == "unscheduled":
            entry["unscheduled"] = True
        for m in sorted(by_tp.get(tp.pk, []), key=lambda m: lesions[m.lesion_id].label):
            lesion = lesions[m.lesion_id]
            if lesion.role == "new":
                entry["new_lesions"].append(_new_lesion(lesion, m))
            elif tp.kind == "pre-baseline":
                if lesion.role == "target":
                    entry["lesions"].append(_target_item(lesion, m, baseline=False))
            elif tp is baseline:
                entry["lesions"].append(_baseline_item(lesion, m))
            elif lesion.role == "target":
                entry["lesions"].append(_target_item(lesion, m, baseline=False))
            else:
                entry["lesions"].append({"id": lesion.label, "status": m.non_target_status or "present"})
        doc_timepoints.append(entry)

    outcome = getattr(patient, "outcome", None) if hasattr(patient, "outcome") else None
    clinical = {}
    if regimen.end_date:
        clinical["treatment_end"] = regimen.end_date.isoformat()
    if patient.ecog_baseline is not None:
        clinical["ecog_baseline"] = patient.ecog_baseline
    if outcome is not None and outcome.death_date:
        clinical["death_date"] = outcome.death_date.isoformat()
    document = {
        "patient_id": patient.study_id,
        "treatment_start": regimen.start_date.isoformat(),
        "timepoints": doc_timepoints,
    }
    if clinical:
        document["clinical"] = clinical
    prior = (
        TreatmentRegimen.objects.filter(patient=patient, start_date__lt=regimen.start_date).order_by("-start_date")
        .first()
    )
    if prior is not None:
        document["prior_line"] = {"regimen": prior.agent_names, "start": prior.start_date.isoformat()}
        if prior.end_date:
            document["prior_line"]["end"] = prior.end_date.isoformat()
    return document


def _baseline_item(lesion, m):
    item = {"id": lesion.label, "kind": lesion.role, "organ": lesion.organ, "nodal": lesion.nodal}
    if m.size_mm is not None and m.size_mm > 0:
        item["size_mm"] = _size(m.size_mm)
    return item


def _target_item(lesion, m, *, baseline):
    item = {"id": lesion.label}
    if m.status in _TARGET_MEASUREMENT:
        item["measurement"] = _TARGET_MEASUREMENT[m.status]
        if m.status == "disappeared" and lesion.nodal and m.size_mm is not None:
            # nodes keep their short axis (RECIST 1.1 §1.3)
            del item["measurement"]
            item["size_mm"] = _size(m.size_mm)
    elif m.size_mm is not None:
        item["size_mm"] = _size(m.size_mm)
    return item


def _new_lesion(lesion, m):
    item = {"id": lesion.label, "organ": lesion.organ, "nodal": lesion.nodal}
    if lesion.equivocal:
        item["equivocal"] = True
    if m.status in _TARGET_MEASUREMENT:
        item["measurement"] = _TARGET_MEASUREMENT[m.status]
    elif m.size_mm is not None:
        item["size_mm"] = _size(m.size_mm)
    else:
        item["status"] = m.non_target_status or "present"
    return item


def alert_flags(assessment):
    """The alerts the worklist raises: HPD and dissociated response under the configured definitions."""
    hpd = set(assessment.hyperprogression_definitions) & set(settings.RADIMMUNO_HPD_ALERT_DEFINITIONS)
    dissociated = set(assessment.dissociated_definitions) & set(settings.RADIMMUNO_DISSOCIATED_ALERT_DEFINITIONS)
    return {"hyperprogression_alert": bool(hpd), "dissociated_alert": bool(dissociated)}


def worklist(*, kind=None, site=None, today=None):
    """Assessments needing attention (the page and the API list the same rows).

    ``kind``: awaiting, overdue, hyperprogression, dissociated, or None for all of them. HPD and dissociated
    response count only under the alerting definitions (settings); every definition is still computed and shown.
    """
    today = today or timezone.localdate()
    queryset = ResponseAssessment.objects.select_related("patient__site", "regimen").filter(status="done")
    if site:
        queryset = queryset.filter(patient__site__code=site)
    if kind == "awaiting":
        queryset = queryset.filter(iupd_awaiting_confirmation=True, confirmation_latest__gte=today)
    elif kind == "overdue":
        queryset = queryset.filter(iupd_awaiting_confirmation=True, confirmation_latest__lt=today)
    else:
        alert = {"hyperprogression": ("hyperprogression_alert",), "dissociated": ("dissociated_alert",)}.get(
            kind, ("hyperprogression_alert", "dissociated_alert"))
        candidates = Q(hyperprogression_any=True) | Q(dissociated_any=True)
        if kind is None:
            candidates |= Q(iupd_awaiting_confirmation=True)
        keep = [a.pk for a in queryset.filter(candidates).select_related(None).only(
                    "pk", "iupd_awaiting_confirmation", "hyperprogression_definitions", "dissociated_definitions")
                if (kind is None and a.iupd_awaiting_confirmation) or any(alert_flags(a)[f] for f in alert)]
        queryset = queryset.filter(pk__in=keep)
    return queryset.order_by("confirmation_latest", "patient__study_id")


def is_overdue(assessment, today=None):
    today = today or timezone.localdate()
    return bool(assessment.iupd_awaiting_confirmation and assessment.confirmation_latest
                and assessment.confirmation_latest < today)


def cohort_assessments(*, site=None):
    queryset = ResponseAssessment.objects.filter(status="done").select_related("patient__site", "regimen")
    if site:
        queryset = queryset.filter(patient__site__code=site)
    return queryset.order_by("patient__study_id")

