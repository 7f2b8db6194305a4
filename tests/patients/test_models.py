"""Validation rules of the data model: each gives a clear, field-level error (RECIST 1.1 §1.1–1.3)."""
import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from imaging.models import Lesion, LesionMeasurement, Timepoint
from imaging.services import regimen_for_assessment, timepoint_upsert
from patients.models import AdverseEvent, Biomarker, BiomarkerKind, Outcome, PatientIdentity, TreatmentRegimen
from tests.factories import (
    LesionFactory,
    MeasurementFactory,
    PatientFactory,
    RegimenFactory,
    TimepointFactory,
)

pytestmark = pytest.mark.django_db


def errors_of(instance):
    with pytest.raises(ValidationError) as info:
        instance.full_clean()
    return info.value.message_dict


def test_study_id_unique_per_site_but_not_across_sites():
    first = PatientFactory(study_id="P-1")
    PatientFactory(study_id="P-1")  # another site: allowed
    duplicate = PatientFactory.build(site=first.site, study_id="P-1")
    assert errors_of(duplicate) == {"__all__": ["Patient with this Site and Study ID already exists."]}


def test_identity_lives_apart_and_str_does_not_leak_it():
    patient = PatientFactory(study_id="P-77")
    identity = PatientIdentity.objects.create(patient=patient, family_name="Secret", mrn="MRN-SECRET")
    assert "Secret" not in str(identity) and "MRN-SECRET" not in str(identity)
    assert "Secret" not in str(patient)


def test_identity_date_of_birth_must_match_year_of_birth():
    patient = PatientFactory(year_of_birth=1960)
    errors = errors_of(PatientIdentity(patient=patient, date_of_birth=dt.date(1961, 1, 1)))
    assert "disagrees with the patient's year of birth 1960" in errors["date_of_birth"][0]


def test_regimen_end_before_start_is_a_field_error():
    regimen = RegimenFactory.build(patient=PatientFactory(), start_date=dt.date(2023, 5, 1), end_date=dt.date(2023, 4, 1))
    assert errors_of(regimen)["end_date"] == ["End date 2023-04-01 is before the start date 2023-05-01."]


def test_regimen_end_before_start_is_also_refused_by_the_database():
    regimen = RegimenFactory()
    regimen.end_date = regimen.start_date - dt.timedelta(days=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        regimen.save()


def test_end_reason_needs_end_date():
    regimen = TreatmentRegimen(patient=PatientFactory(), start_date=dt.date(2023, 5, 1), end_reason="toxicity")
    assert "end date is required" in errors_of(regimen)["end_date"][0]


@pytest.mark.parametrize("grade", [0, 6])
def test_ae_grade_outside_1_to_5(grade):
    event = AdverseEvent(patient=PatientFactory(), term="colitis", grade=grade, onset_date=dt.date(2023, 3, 1))
    assert "grade" in errors_of(event)


def test_ae_resolution_before_onset():
    event = AdverseEvent(patient=PatientFactory(), term="colitis", grade=2, onset_date=dt.date(2023, 3, 1),
                         resolution_date=dt.date(2023, 2, 1))
    assert "before the onset date" in errors_of(event)["resolution_date"][0]


def test_biomarker_out_of_range_and_bad_category():
    patient = PatientFactory()
    tps = BiomarkerKind.objects.get(code="pdl1_tps")
    errors = errors_of(Biomarker(patient=patient, kind=tps, value_numeric=Decimal("120"), measured_on=dt.date(2023, 1, 1),
                                 specimen="tissue"))
    assert errors["value_numeric"] == ["PD-L1 TPS must be ≤ 100 %, got 120."]
    msi = BiomarkerKind.objects.get(code="msi")
    errors = errors_of(Biomarker(patient=patient, kind=msi, value_category="high", measured_on=dt.date(2023, 1, 1),
                                 specimen="tissue"))
    assert errors["value_category"] == ["MSI status must be one of: MSI-H, MSI-L, MSS (got 'high')."]


def test_outcome_death_requires_dead_status_and_contact_not_after_death():
    patient = PatientFactory()
    errors = errors_of(Outcome(patient=patient, last_contact_date=dt.date(2024, 3, 1), vital_status="alive",
                               death_date=dt.date(2024, 2, 1)))
    assert "vital status must be 'dead'" in errors["vital_status"][0]
    assert "after the date of death" in errors["last_contact_date"][0]


def test_negative_size_is_refused():
    m = MeasurementFactory.build(lesion=LesionFactory(), size_mm=Decimal("-1"))
    m.timepoint = TimepointFactory(patient=m.lesion.patient)
    assert "A size cannot be negative." in errors_of(m)["size_mm"]


def test_measurement_at_a_timepoint_of_another_patient():
    lesion = LesionFactory()
    other_timepoint = TimepointFactory()  # another patient
    errors = errors_of(LesionMeasurement(lesion=lesion, timepoint=other_timepoint, size_mm=Decimal(20)))
    assert "belongs to another patient" in errors["timepoint"][0]


@pytest.mark.parametrize("nodal,organ,size,message", [
    (False, "lung", "9.9", "non-nodal target needs a longest diameter ≥ 10 mm at baseline (got 9.9 mm)"),
    (True, "lymph_node", "14", "nodal target needs a short axis ≥ 15 mm at baseline (got 14 mm)"),
])
def test_baseline_target_below_measurable_size(nodal, organ, size, message):
    lesion = LesionFactory(nodal=nodal, organ=organ)
    baseline = TimepointFactory(patient=lesion.patient, kind="baseline")
    errors = errors_of(LesionMeasurement(lesion=lesion, timepoint=baseline, size_mm=Decimal(size)))
    assert message in errors["size_mm"][0]


@pytest.mark.parametrize("nodal,organ,size", [(False, "lung", "10"), (True, "lymph_node", "15")])
def test_baseline_target_at_the_threshold_is_measurable(nodal, organ, size):
    lesion = LesionFactory(nodal=nodal, organ=organ)
    baseline = TimepointFactory(patient=lesion.patient, kind="baseline")
    LesionMeasurement(lesion=lesion, timepoint=baseline, size_mm=Decimal(size)).full_clean()


def test_follow_up_target_may_shrink_below_10mm_and_nodes_keep_their_short_axis():
    node = LesionFactory(nodal=True, organ="lymph_node")
    follow_up = TimepointFactory(patient=node.patient, kind="follow-up")
    LesionMeasurement(lesion=node, timepoint=follow_up, size_mm=Decimal("7"), status="disappeared").full_clean()


def test_too_small_has_no_size_and_present_needs_one():
    lesion = LesionFactory()
    tp = TimepointFactory(patient=lesion.patient)
    assert "size_mm" in errors_of(LesionMeasurement(lesion=lesion, timepoint=tp, status="too-small-to-measure",
                                                    size_mm=Decimal(3)))
    assert "give its size in mm" in errors_of(LesionMeasurement(lesion=lesion, timepoint=tp))["size_mm"][0]


def test_more_than_five_targets():
    patient = PatientFactory()
    organs = ["lung", "liver", "adrenal", "bone", "brain"]
    for i, organ in enumerate(organs):
        LesionFactory(patient=patient, label=f"T{i + 1}", organ=organ)
    errors = errors_of(Lesion(patient=patient, label="T6", organ="kidney", role="target"))
    assert "at most 5 target lesions" in errors["role"][0]
    assert "T1, T2, T3, T4, T5" in errors["role"][0]


def test_more_than_two_targets_per_organ_and_nodes_count_as_one_organ():
    patient = PatientFactory()
    LesionFactory(patient=patient, label="T1", organ="liver")
    LesionFactory(patient=patient, label="T2", organ="liver")
    errors = errors_of(Lesion(patient=patient, label="T3", organ="liver", role="target"))
    assert "at most 2 target lesions per organ; liver already has T1, T2" in errors["role"][0]
    LesionFactory(patient=patient, label="N1", organ="lymph_node", nodal=True)
    LesionFactory(patient=patient, label="N2", organ="lymph_node", nodal=True)
    errors = errors_of(Lesion(patient=patient, label="N3", organ="lymph_node", nodal=True, role="target"))
    assert "lymph nodes already has N1, N2" in errors["role"][0]
    # a non-target in that organ is fine
    Lesion(patient=patient, label="NT1", organ="liver", role="non-target").full_clean()


def test_new_lesion_needs_its_timepoint_and_baseline_lesions_must_not_have_one():
    patient = PatientFactory()
    tp = TimepointFactory(patient=patient)
    assert "appeared_at" in errors_of(Lesion(patient=patient, label="N1", organ="liver", role="new"))
    assert "appeared_at" in errors_of(Lesion(patient=patient, label="T1", organ="liver", role="target",
                                             appeared_at=tp))


def test_new_lesion_cannot_be_measured_before_it_appeared():
    patient = PatientFactory()
    early, late = TimepointFactory(patient=patient), TimepointFactory(patient=patient)
    lesion = LesionFactory(patient=patient, role="new", appeared_at=late)
    assert "first appeared" in errors_of(LesionMeasurement(lesion=lesion, timepoint=early, size_mm=Decimal(12)))[
        "timepoint"][0]


def test_split_and_merge_links_stay_within_the_patient():
    a, b = LesionFactory(), LesionFactory()
    a.merged_into = b
    assert "another patient" in errors_of(a)["merged_into"][0]


def test_timepoint_days_from_regimen_start_and_automatic_regimen():
    patient = PatientFactory()
    prior = RegimenFactory(patient=patient, start_date=dt.date(2022, 1, 1), agents=["carboplatin"])
    ici = RegimenFactory(patient=patient, line_of_therapy=2, start_date=dt.date(2023, 1, 1))
    baseline, _ = timepoint_upsert(patient=patient, date=dt.date(2022, 12, 20), kind="baseline")
    follow_up, _ = timepoint_upsert(patient=patient, date=dt.date(2023, 2, 15), kind="follow-up")
    assert (baseline.regimen, baseline.days_from_regimen_start) == (ici, -12)
    assert (follow_up.regimen, follow_up.days_from_regimen_start) == (ici, 45)
    assert regimen_for_assessment(regimens=[prior, ici], date=dt.date(2022, 6, 1), kind="follow-up") == prior


def test_one_assessment_per_patient_and_date():
    tp = TimepointFactory()
    assert errors_of(Timepoint(patient=tp.patient, date=tp.date, kind="follow-up"))
