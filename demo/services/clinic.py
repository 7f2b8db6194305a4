"""Demo patients who are in the clinic today, so the worklist has work on it.

The synthetic cohort (``demo_cohort_create``) spreads its courses over the past years; most of them are over by
today. These few patients are on treatment now, with dates relative to today, and each shows one thing the
worklist is for: a confirmation scan due, a confirmation scan awaiting its reading, a follow-up scan awaiting its
reading, a recent grade 3 irAE, an early hyperprogression, a pseudoprogression that has resolved. They are written
through the apps' services (as a clinician recording on the page would), so their responses and alerts are the
engine's.
"""
import datetime as dt
from decimal import Decimal

from django.db import transaction

from imaging.services import lesion_create, measurement_record, timepoint_upsert
from patients.models import Drug, Site
from patients.services import adverse_event_upsert, outcome_set, patient_upsert, regimen_upsert

#: study ID, tumour type, drug, days since the start, target sums (day, mm: None = scan not read yet), irAE, story
CLINIC = [
    ("DEMO-CLINIC-1", "nsclc", "pembrolizumab", 70, [(-6, 80), (56, 104)], None,
     "iUPD at the first follow-up: the confirmation scan is due"),
    ("DEMO-CLINIC-2", "melanoma", "nivolumab", 100, [(-4, 90), (56, 117), (97, None)], None,
     "iUPD; its confirmation scan arrived and awaits reading"),
    ("DEMO-CLINIC-3", "rcc", "nivolumab", 130, [(-3, 100), (56, 62), (112, 55), (126, None)], None,
     "responding (iPR); the latest follow-up scan awaits reading"),
    ("DEMO-CLINIC-4", "nsclc", "atezolizumab", 80, [(-5, 70), (56, 66)], ("pneumonitis", 3, 6),
     "stable disease and a grade 3 pneumonitis six days ago"),
    ("DEMO-CLINIC-5", "melanoma", "pembrolizumab", 120, [(-90, 40), (-5, 44), (56, 110)], None,
     "tumour growth accelerating after the start: hyperprogression by the kinetics definitions"),
    ("DEMO-CLINIC-6", "nsclc", "pembrolizumab", 160, [(-5, 100), (56, 126), (98, 68), (140, 60)], None,
     "pseudoprogression: the iUPD was not confirmed and the tumour shrank"),
]


@transaction.atomic
def demo_clinic_create(*, today=None):
    """Create the in-clinic demo patients (idempotent by study ID). Returns them."""
    today = today or dt.date.today()
    site = Site.objects.get(code="DEMO-A")
    created = []
    for study_id, tumour, drug, days_on, sums, irae, story in CLINIC:
        start = today - dt.timedelta(days=days_on)
        patient, _, _ = patient_upsert(site=site, study_id=study_id, tumour_type=tumour, sex="F" if len(created) % 2
                                       else "M", year_of_birth=1950 + 3 * len(created), ecog_baseline=1,
                                       diagnosis_date=start - dt.timedelta(days=45))
        regimen_upsert(patient=patient, start_date=start, line_of_therapy=1, agents=[Drug.objects.get(name=drug)])
        outcome_set(patient=patient, last_contact_date=today - dt.timedelta(days=1), vital_status="alive")
        lesions = [lesion_create(patient=patient, label=f"T{k + 1}", organ=organ, role="target")
                   for k, organ in enumerate(("lung", "liver"))]
        baseline_index = next(i for i, (day, _) in enumerate(sums) if day > -30)
        for i, (day, total) in enumerate(sums):
            kind = "pre-baseline" if i < baseline_index else "baseline" if i == baseline_index else "follow-up"
            timepoint, _ = timepoint_upsert(patient=patient, date=start + dt.timedelta(days=day), kind=kind)
            if total is None:
                continue  # the scan is there; its reading is not yet
            for lesion in lesions:
                measurement_record(lesion=lesion, timepoint=timepoint, size_mm=Decimal(total) / 2)
        if irae:
            term, grade, days_ago = irae
            adverse_event_upsert(patient=patient, term=term, onset_date=today - dt.timedelta(days=days_ago),
                                 grade=grade, corticosteroids=True)
        created.append(patient)
    return created
