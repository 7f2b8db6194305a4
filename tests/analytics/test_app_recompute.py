"""Response results follow the lesion data: every edit recomputes them, no stale result survives."""
import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction

from analytics.models import ResponseAssessment, TimepointResponse
from analytics.selectors import response_document
from imaging.models import LesionMeasurement
from imaging.services import lesion_create, measurement_record, timepoint_upsert
from radimmuno.jobs import reconcile
from tests.analytics.builders import patient_with_scans
from tests.factories import PatientFactory, RegimenFactory

pytestmark = pytest.mark.django_db


def assessment_of(patient):
    return ResponseAssessment.objects.get(patient=patient)


def test_saving_measurements_computes_the_response(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        patient, *_ = patient_with_scans([(-5, 100), (56, 60)])
    a = assessment_of(patient)
    assert a.status == "done" and a.problems == []
    assert (a.recist_bor, a.irecist_ibor) == ("PR", "iPR")
    follow_up = TimepointResponse.objects.get(assessment=a, criteria="recist1.1", category="PR")
    assert follow_up.pct_change_from_baseline == -40.0
    assert any("PR" in line for line in follow_up.explanation)


def test_editing_a_measurement_updates_the_result_and_the_worklist(client_logged_in,
                                                                   django_capture_on_commit_callbacks):
    recent = dt.date.today() - dt.timedelta(days=60)  # the confirmation window lies ahead
    with django_capture_on_commit_callbacks(execute=True):
        patient, regimen, lesions, tps = patient_with_scans([(-5, 100), (56, 90)], start=recent)
        old, _, old_lesions, old_tps = patient_with_scans([(-5, 100), (56, 90)])  # window long past
    assert assessment_of(patient).irecist_ibor == "iSD"
    assert patient.study_id not in client_logged_in.get("/analytics/worklist/?kind=awaiting").content.decode()

    with django_capture_on_commit_callbacks(execute=True):  # T1 grows: 45 -> 75 mm, sum 120 (+20 %, +30 mm)
        measurement_record(lesion=lesions[0], timepoint=tps[1], size_mm=Decimal(75))
        measurement_record(lesion=old_lesions[0], timepoint=old_tps[1], size_mm=Decimal(75))
    a = assessment_of(patient)
    assert a.irecist_ibor == "iUPD" and a.iupd_awaiting_confirmation
    assert a.confirmation_earliest and a.confirmation_latest > a.confirmation_earliest
    page = client_logged_in.get("/analytics/worklist/?kind=awaiting").content.decode()
    assert patient.study_id in page and old.study_id not in page
    overdue = client_logged_in.get("/analytics/worklist/?section=overdue&scope=all").content.decode()
    assert old.study_id in overdue and patient.study_id not in overdue
    panel = client_logged_in.get(f"/analytics/patients/{patient.pk}/response/", HTTP_HX_REQUEST="true")
    assert "iUPD" in panel.content.decode() and "awaiting confirmation" in panel.content.decode()


def test_no_stale_result_inside_the_editing_transaction(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        patient, regimen, lesions, tps = patient_with_scans([(-5, 100), (56, 60)])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        with transaction.atomic():
            measurement_record(lesion=lesions[0], timepoint=tps[1], size_mm=Decimal(70))
            assert assessment_of(patient).status == "pending"  # the page says "recomputing", not the old PR
    assert callbacks  # the recomputation waits for the commit


def test_deleting_a_follow_up_and_deleting_the_patient(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        patient, regimen, lesions, tps = patient_with_scans([(-5, 100), (56, 60), (112, 150)])
    assert assessment_of(patient).recist_bor == "PR"
    assert assessment_of(patient).recist_progression_date == tps[2].date
    with django_capture_on_commit_callbacks(execute=True):
        tps[2].delete()
    assert assessment_of(patient).recist_progression_date is None
    with django_capture_on_commit_callbacks(execute=True):
        patient.delete()
    assert not ResponseAssessment.objects.exists()


def test_invalid_data_is_shown_as_problems_not_a_failure(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        patient, regimen, lesions, tps = patient_with_scans([(-5, 100), (56, 60)])
        late = lesion_create(patient=patient, label="T3", organ="bone", role="target")  # never measured at baseline
        measurement_record(lesion=late, timepoint=tps[1], size_mm=Decimal(20))
    a = assessment_of(patient)
    assert a.status == "done" and a.result is None
    assert any("T3" in p and "baseline" in p for p in a.problems)


def test_an_incomplete_reading_awaits_reading_and_keeps_the_read_results(django_capture_on_commit_callbacks):
    """RECIST 1.1 records every lesion at every timepoint: a follow-up missing T2 is not evaluated yet."""
    with django_capture_on_commit_callbacks(execute=True):
        patient, regimen, lesions, tps = patient_with_scans([(-5, 100), (56, 60), (112, 50)])
        LesionMeasurement.objects.filter(lesion=lesions[1], timepoint=tps[2]).delete()
    a = assessment_of(patient)
    assert a.problems == [] and a.irecist_ibor == "iPR"
    assert [t["date"] for t in a.result["timepoints"]] == [tps[1].date.isoformat()]  # the follow-ups read
    assert a.awaiting_read == [{"timepoint": tps[2].pk, "date": tps[2].date.isoformat(), "kind": "follow-up",
                                "missing": ["T2"]}]
    assert a.awaiting_read_from == tps[2].date and a.current_date == tps[1].date and a.current_irecist == "iPR"


def test_a_patient_without_scans_has_no_engine_wording(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        patient = PatientFactory()
        RegimenFactory(patient=patient, agents=["nivolumab"])
    a = assessment_of(patient)
    assert a.status == "done" and a.result is None and a.problems == [] and a.awaiting_read == []


def test_new_lesion_and_pre_baseline_reach_the_engine(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        patient, regimen, lesions, tps = patient_with_scans([(-5, 100), (56, 100)])
        pre, _ = timepoint_upsert(patient=patient, date=dt.date(2023, 11, 1), kind="pre-baseline")
        for lesion in lesions:
            measurement_record(lesion=lesion, timepoint=pre, size_mm=Decimal(40))
        new = lesion_create(patient=patient, label="N1", organ="bone", role="new", appeared_at=tps[1])
        measurement_record(lesion=new, timepoint=tps[1], size_mm=Decimal(12))
    document = response_document(regimen=regimen)
    kinds = [t["kind"] for t in document["timepoints"]]
    assert kinds == ["pre-baseline", "baseline", "follow-up"]
    assert document["timepoints"][2]["new_lesions"] == [{"id": "N1", "organ": "bone", "nodal": False,
                                                         "size_mm": Decimal("12.00")}]
    a = assessment_of(patient)
    assert a.recist_bor == "PD" and a.irecist_ibor == "iUPD"
    assert a.result["hyperprogression"]["champiat"]["computable"] is True


def test_reconciler_reenqueues_a_lost_job(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        patient, *_ = patient_with_scans([(-5, 100), (56, 60)])
    a = assessment_of(patient)
    stale = a.updated_at - dt.timedelta(hours=2)
    ResponseAssessment.objects.filter(pk=a.pk).update(status="pending", enqueued_at=stale, result=None)
    with django_capture_on_commit_callbacks(execute=True):
        counts = reconcile()
    assert counts["analytics.ResponseAssessment"] == 1
    a.refresh_from_db()
    assert a.status == "done" and a.result is not None


def test_the_next_scan_is_due_one_interval_after_the_latest(settings, django_capture_on_commit_callbacks):
    settings.RADIMMUNO_FOLLOW_UP_INTERVAL_DAYS = 42
    with django_capture_on_commit_callbacks(execute=True):
        patient, regimen, lesions, tps = patient_with_scans([(-5, 100)])
    a = assessment_of(patient)
    assert a.current_date == tps[0].date and a.current_irecist == ""  # baseline read, no follow-up yet
    assert a.next_scan_due == tps[0].date + dt.timedelta(days=42)
    with django_capture_on_commit_callbacks(execute=True):
        measurement_record(lesion=lesions[0], timepoint=timepoint_upsert(
            patient=patient, date=tps[0].date + dt.timedelta(days=60), kind="follow-up")[0], size_mm=Decimal(40))
    a = assessment_of(patient)
    assert a.next_scan_due == tps[0].date + dt.timedelta(days=60 + 42)  # the scan taken counts, read or not


def test_the_current_assessment_is_the_most_recent_regimens(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        patient, first, *_ = patient_with_scans([(-5, 100), (56, 60)], start=dt.date(2023, 1, 10))
    assert ResponseAssessment.objects.get(patient=patient).is_latest
    with django_capture_on_commit_callbacks(execute=True):
        second = RegimenFactory(patient=patient, start_date=dt.date(2024, 6, 1), line_of_therapy=2,
                                agents=["nivolumab"])
    latest = dict(ResponseAssessment.objects.filter(patient=patient).values_list("regimen_id", "is_latest"))
    assert latest == {first.pk: False, second.pk: True}
    from patients.models import Patient

    assert Patient.objects.with_current_response().get(pk=patient.pk).current_response == ""  # line 2: no scan read
    assert not Patient.objects.filter(pk=patient.pk, response_assessments__is_latest=True,
                                      response_assessments__current_irecist="iPR").exists()
