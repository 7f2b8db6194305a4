"""Write a synthetic demo cohort through the same validation as the apps' services, in bulk.

The generator (``demo.compute.synthetic.CohortGenerator``) is pure; this module turns its output into model
instances, validates every one with ``full_clean`` (and the cross-row target-selection rules), and inserts
them with their history rows in one transaction.
"""
import datetime as dt
from decimal import Decimal

from django.db import transaction

from imaging.models import Lesion, LesionMeasurement, Timepoint
from imaging.services import lesions_validate, regimen_assign_all
from patients.models import (
    AdverseEvent,
    Biomarker,
    BiomarkerKind,
    DemoGroundTruth,
    Drug,
    Outcome,
    Patient,
    PatientIdentity,
    Site,
    TreatmentRegimen,
)
from patients.services import bulk_create_validated

from ..compute.synthetic import CohortGenerator

DEMO_SITES = [("DEMO-A", "Demo University Hospital – Oncology"), ("DEMO-B", "Demo Cancer Centre – Thoracic Unit")]


def _dec(value, places=2):
    return None if value is None else Decimal(str(round(value, places)))


@transaction.atomic
def demo_cohort_create(*, n, seed=0, today=None, progress=None):
    """Create ``n`` synthetic patients with their treatment, biomarkers, irAEs, imaging and outcomes.

    Returns the list of created patients. ``progress(step, total)`` is called as the stages complete.
    """
    stages = 6
    report = progress or (lambda step, total: None)
    sites = [Site.objects.get_or_create(code=code, defaults={"name": name})[0] for code, name in DEMO_SITES]
    taken = set(Patient.objects.filter(study_id__startswith="DEMO-").values_list("study_id", flat=True))
    prefix = "DEMO" if not taken else f"DEMO{seed}"
    generated = CohortGenerator(seed=seed, today=today or dt.date.today(), id_prefix=prefix).generate(n)
    drugs = {d.name: d for d in Drug.objects.all()}
    kinds = {k.code: k for k in BiomarkerKind.objects.all()}

    patients = [
        Patient(site=sites[i % len(sites)], study_id=g.study_id, sex=g.sex, year_of_birth=g.year_of_birth,
                tumour_type=g.tumour_type, histology=g.histology, stage=g.stage, diagnosis_date=g.diagnosis_date,
                ecog_baseline=g.ecog_baseline, smoking_status=g.smoking_status)
        for i, g in enumerate(generated)
    ]
    bulk_create_validated(Patient, patients)
    bulk_create_validated(PatientIdentity, [
        PatientIdentity(patient=p, family_name=g.family_name, given_name=g.given_name, mrn=g.mrn,
                        date_of_birth=g.date_of_birth)
        for p, g in zip(patients, generated)
    ])
    bulk_create_validated(DemoGroundTruth, [
        DemoGroundTruth(patient=p, pattern=g.pattern, parameters=g.parameters, seed=seed)
        for p, g in zip(patients, generated)
    ], clean=False)
    report(1, stages)

    regimens, agent_links, ici_regimen = [], [], {}
    for p, g in zip(patients, generated):
        for r in g.regimens:
            regimen = TreatmentRegimen(patient=p, line_of_therapy=r["line"], start_date=r["start"],
                                       end_date=r["end"], end_reason=r["end_reason"])
            regimens.append((regimen, r["agents"]))
        ici_regimen[p.study_id] = regimens[-1][0]
    bulk_create_validated(TreatmentRegimen, [r for r, _ in regimens])
    Through = TreatmentRegimen.agents.through
    for regimen, agents in regimens:
        agent_links.extend(Through(treatmentregimen_id=regimen.pk, drug_id=drugs[a].pk) for a in agents)
    Through.objects.bulk_create(agent_links, batch_size=5000)
    report(2, stages)

    biomarkers, events, outcomes = [], [], []
    for p, g in zip(patients, generated):
        for b in g.biomarkers:
            biomarkers.append(Biomarker(
                patient=p, kind=kinds[b["kind"]], value_numeric=_dec(b.get("numeric"), 4),
                value_category=b.get("category", ""), measured_on=b["date"], specimen=b["specimen"],
                assay=b["assay"]))
        for e in g.adverse_events:
            events.append(AdverseEvent(
                patient=p, regimen=ici_regimen[p.study_id], term=e["term"], grade=e["grade"], onset_date=e["onset"],
                resolution_date=e["resolution"], corticosteroids=e["corticosteroids"],
                other_immunosuppressants=e["other_immunosuppressants"], ici_action=e["ici_action"]))
        o = g.outcome
        outcomes.append(Outcome(patient=p, last_contact_date=o["last_contact"], vital_status=o["vital_status"],
                                death_date=o["death"], clinical_progression_date=o["clinical_progression"]))
    bulk_create_validated(Biomarker, biomarkers)
    bulk_create_validated(AdverseEvent, events)
    bulk_create_validated(Outcome, outcomes)
    report(3, stages)

    timepoints, per_patient_tps = [], {}
    regimens_by_patient = {}
    for regimen, _ in regimens:
        regimens_by_patient.setdefault(regimen.patient_id, []).append(regimen)
    for p, g in zip(patients, generated):
        tps = [Timepoint(patient=p, date=t["date"], kind=t["kind"]) for t in g.timepoints]
        per_patient_tps[p.pk] = tps
        timepoints.extend(tps)
    regimen_assign_all(timepoints, regimens_by_patient)
    bulk_create_validated(Timepoint, timepoints)
    report(4, stages)

    lesions, lesion_rows = [], []
    for p, g in zip(patients, generated):
        tps = per_patient_tps[p.pk]
        for sl in g.lesions:
            lesion = Lesion(patient=p, label=sl.label, organ=sl.organ, nodal=sl.nodal, role=sl.role,
                            appeared_at=tps[sl.appears_at] if sl.appears_at is not None else None)
            lesions.append(lesion)
            lesion_rows.append((lesion, sl, tps))
    lesions_validate(lesions)
    bulk_create_validated(Lesion, lesions)
    report(5, stages)

    measurements = []
    for lesion, sl, tps in lesion_rows:
        for t, timepoint in enumerate(tps):
            if sl.sizes[t] is None and not sl.statuses[t]:
                continue
            measurements.append(LesionMeasurement(
                lesion=lesion, timepoint=timepoint, size_mm=_dec(sl.sizes[t]), status=sl.statuses[t],
                non_target_status=sl.non_target[t]))
    bulk_create_validated(LesionMeasurement, measurements)
    report(6, stages)
    return patients
