"""Build a patient on an ICI regimen with lesion measurements, through the app's services."""
import datetime as dt
from decimal import Decimal

from imaging.services import lesion_create, measurement_record, timepoint_upsert
from tests.factories import PatientFactory, RegimenFactory


def patient_with_scans(sums_by_day, *, start=dt.date(2024, 1, 10), study_id=None, organs=("lung", "liver")):
    """A patient with two target lesions whose sizes split each target sum in two equal halves.

    ``sums_by_day``: [(day from start, target sum mm), ...]; the first entry is the baseline.
    Returns (patient, regimen, lesions, timepoints).
    """
    kwargs = {"study_id": study_id} if study_id else {}
    patient = PatientFactory(**kwargs)
    regimen = RegimenFactory(patient=patient, start_date=start, agents=["pembrolizumab"])
    timepoints = []
    for i, (day, _) in enumerate(sums_by_day):
        tp, _ = timepoint_upsert(patient=patient, date=start + dt.timedelta(days=day),
                                 kind="baseline" if i == 0 else "follow-up")
        timepoints.append(tp)
    lesions = [lesion_create(patient=patient, label=f"T{k + 1}", organ=organ, role="target")
               for k, organ in enumerate(organs)]
    for tp, (_, total) in zip(timepoints, sums_by_day):
        for lesion in lesions:
            measurement_record(lesion=lesion, timepoint=tp, size_mm=Decimal(total) / len(lesions))
    return patient, regimen, lesions, timepoints
