"""Writes of the clinical record of imaging: assessments (timepoints), lesions and their measurements, and the
target-selection rules (RECIST 1.1 §1.2) checked over them."""
import datetime
from collections import defaultdict

from django.core.exceptions import ValidationError
from django.db import transaction

from .. import choices
from ..models import MAX_TARGETS, MAX_TARGETS_PER_ORGAN, Lesion, LesionMeasurement, Timepoint

BASELINE_LOOKAHEAD_DAYS = 90
PRE_BASELINE_LOOKAHEAD_DAYS = 183  # the scan before baseline used for pre-treatment growth kinetics (§3)


def regimen_for_assessment(*, regimens, date, kind):
    """The regimen an assessment on ``date`` evaluates.

    A baseline scan belongs to the regimen starting soonest after it (within 90 days), a pre-baseline scan
    likewise within 6 months; any other scan to the regimen most recently started on or before its date,
    else the first one after it.
    """
    regimens = sorted(regimens, key=lambda r: r.start_date)
    if kind in (choices.TimepointKind.PRE_BASELINE, choices.TimepointKind.BASELINE):
        lookahead = PRE_BASELINE_LOOKAHEAD_DAYS if kind == choices.TimepointKind.PRE_BASELINE else BASELINE_LOOKAHEAD_DAYS
        horizon = date + datetime.timedelta(days=lookahead)
        upcoming = [r for r in regimens if date <= r.start_date <= horizon]
        if upcoming:
            return upcoming[0]
    started = [r for r in regimens if r.start_date <= date]
    if started:
        return started[-1]
    return regimens[0] if regimens else None


def _save(instance):
    instance.full_clean()
    instance.save()
    return instance


@transaction.atomic
def timepoint_upsert(*, patient, date, kind, regimen=None, notes=""):
    """Create or update the patient's assessment on ``date``. Returns (timepoint, created)."""
    if regimen is None:
        regimen = regimen_for_assessment(regimens=patient.regimens.all(), date=date, kind=kind)
    timepoint = Timepoint.objects.filter(patient=patient, date=date).first()
    created = timepoint is None
    if created:
        timepoint = Timepoint(patient=patient, date=date)
    timepoint.kind, timepoint.regimen, timepoint.notes = kind, regimen, notes or timepoint.notes
    return _save(timepoint), created


@transaction.atomic
def lesion_create(*, patient, label, organ, role, nodal=False, appeared_at=None, **fields):
    return _save(Lesion(patient=patient, label=label, organ=organ, role=role, nodal=nodal,
                        appeared_at=appeared_at, **fields))


@transaction.atomic
def measurement_record(*, lesion, timepoint, user=None, **fields):
    """Record (or correct) a lesion's measurement at an assessment. Returns (measurement, created).

    ``expected_version``: the version the writer saw (the form's, the API's); if the measurement was saved since,
    ``radimmuno.versioning.EditConflict`` says what changed, and nothing is written."""
    expected_version = fields.pop("expected_version", None)
    measurement = LesionMeasurement.objects.filter(lesion=lesion, timepoint=timepoint).first()
    created = measurement is None
    if created:
        measurement = LesionMeasurement(lesion=lesion, timepoint=timepoint)
    elif expected_version is not None:
        measurement.expected_version = expected_version
    for name, value in fields.items():
        setattr(measurement, name, value)
    measurement.recorded_by = user
    return _save(measurement), created


def targets_check(lesions):
    """Target-selection limits over an in-memory set of lesions (RECIST 1.1 §1.2), for bulk writes.

    Returns a list of messages, empty when the selection is valid.
    """
    by_patient = defaultdict(list)
    for lesion in lesions:
        if lesion.role == choices.LesionRole.TARGET:
            by_patient[lesion.patient_id or id(lesion.patient)].append(lesion)
    problems = []
    for targets in by_patient.values():
        patient = targets[0].patient
        if len(targets) > MAX_TARGETS:
            problems.append(f"patient {patient}: {len(targets)} target lesions (at most {MAX_TARGETS}).")
        per_organ = defaultdict(list)
        for lesion in targets:
            per_organ[lesion.organ_group].append(lesion.label)
        for organ, labels in per_organ.items():
            if len(labels) > MAX_TARGETS_PER_ORGAN:
                problems.append(
                    f"patient {patient}: {len(labels)} targets in {organ} ({', '.join(labels)}); "
                    f"at most {MAX_TARGETS_PER_ORGAN} per organ."
                )
    return problems


def regimen_assign_all(timepoints, regimens_by_patient):
    """Fill ``regimen`` on unsaved timepoints from each patient's regimens (bulk path of timepoint_upsert)."""
    for timepoint in timepoints:
        if timepoint.regimen is None:
            timepoint.regimen = regimen_for_assessment(
                regimens=regimens_by_patient.get(timepoint.patient_id, []), date=timepoint.date, kind=timepoint.kind
            )
        timepoint.days_from_regimen_start = (
            (timepoint.date - timepoint.regimen.start_date).days if timepoint.regimen else None
        )


def lesions_validate(lesions):
    problems = targets_check(lesions)
    if problems:
        raise ValidationError(problems)
