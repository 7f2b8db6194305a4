"""Clinical import, issue 15: the whole file is checked before any write (outside any transaction), then written in
one short transaction in a fixed number of queries, with history rows; the response recomputation is requested once
per patient, after commit; a concurrent change between the check and the write is refused, never overwritten."""
import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

import analytics.receivers
from analytics.models import ResponseAssessment
from patients import services
from patients.importer import COLUMNS, import_clinical
from patients.importing import clinical
from patients.models import AdverseEvent, Biomarker, ImportRun, Outcome, Patient, PatientIdentity, TreatmentRegimen
from tests.factories import PatientFactory, RegimenFactory, SiteFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def site(db):
    return SiteFactory(code="DEMO-A", name="Demo A")


def csv_bytes(rows):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def cohort(n, *, start=0, agents="pembrolizumab", end_date=""):
    """``n`` patients with every instrument: identity and follow-up, a regimen, two biomarkers, an irAE."""
    rows = []
    for i in range(start, start + n):
        study_id = f"P{i:04d}"
        rows.append({"record_id": study_id, "site": "DEMO-A", "tumour_type": "melanoma", "year_of_birth": "1960",
                     "mrn": f"MRN-{i:06d}", "family_name": "Fam", "given_name": "Giv", "date_of_birth": "1960-03-04",
                     "last_contact_date": "2024-06-01", "vital_status": "alive"})
        rows.append({"record_id": study_id, "redcap_repeat_instrument": "treatment", "agents": agents,
                     "start_date": "2023-01-01", "end_date": end_date, "end_reason": "toxicity" if end_date else ""})
        rows.append({"record_id": study_id, "redcap_repeat_instrument": "biomarker", "biomarker": "ldh",
                     "value": "250", "measured_on": "2022-12-20"})
        rows.append({"record_id": study_id, "redcap_repeat_instrument": "biomarker", "biomarker": "msi",
                     "value": "mss", "measured_on": "2022-12-20"})
        rows.append({"record_id": study_id, "redcap_repeat_instrument": "adverse_event", "ae_term": "colitis",
                     "ae_grade": "3", "ae_onset_date": "2023-03-01"})
    return rows


@pytest.mark.django_db(transaction=True)
def test_the_file_is_checked_outside_any_transaction_and_written_in_one(vocabularies, monkeypatch):
    """Checking a large file took the write lock (SQLite: transaction_mode=IMMEDIATE) for its whole duration;
    now nothing of the check runs in a transaction, and the writes run in a single one."""
    SiteFactory(code="DEMO-A")
    seen = {}
    run, write = clinical.ClinicalCheck.run, services.clinical_records_write

    def checked(self, rows):
        seen["check"] = connection.in_atomic_block
        return run(self, rows)

    def written(**kwargs):
        seen["write"] = connection.in_atomic_block
        return write(**kwargs)

    monkeypatch.setattr(clinical.ClinicalCheck, "run", checked)
    monkeypatch.setattr(services, "clinical_records_write", written)
    report = import_clinical(data=csv_bytes(cohort(3)), filename="x.csv")
    assert report.ok, report.problems
    assert seen["check"] is False and seen["write"] is True
    assert Patient.objects.count() == 3 and ImportRun.objects.get().status == "applied"


def test_the_queries_do_not_grow_with_the_patients(site, django_capture_on_commit_callbacks):
    def queries(rows):
        with django_capture_on_commit_callbacks(execute=False), CaptureQueriesContext(connection) as captured:
            assert import_clinical(data=csv_bytes(rows), filename="x.csv").ok
        return len(captured)

    few, many = queries(cohort(3)), queries(cohort(40, start=100))
    # (a few more for many rows: SQLite takes at most 999 values per statement, so bulk inserts come in batches)
    assert few <= many <= few + 4 and many <= 45, (few, many)
    again = queries(cohort(40, start=100))  # the same file: read, compared, nothing written
    assert again <= 20 and PatientIdentity.history.count() == 43


def test_recomputation_is_requested_once_per_patient_after_commit(site, django_capture_on_commit_callbacks,
                                                                 monkeypatch):
    requested = []
    monkeypatch.setattr(analytics.receivers, "response_request",
                        lambda *, patient: requested.append(("one", patient.pk)))
    monkeypatch.setattr(analytics.receivers, "response_request_patients",
                        lambda *, patient_ids: requested.append(("bulk", sorted(patient_ids))))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert import_clinical(data=csv_bytes(cohort(4)), filename="x.csv").ok
        assert requested == []  # nothing before the commit (and no per-row request at all)
    for callback in callbacks:
        callback()
    assert requested == [("bulk", sorted(Patient.objects.values_list("pk", flat=True)))]

    requested.clear()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert import_clinical(data=csv_bytes(cohort(4)), filename="x.csv").ok  # nothing changes
    assert requested == [] and callbacks == []

    rows = cohort(4)
    rows[1]["end_date"], rows[1]["end_reason"] = "2023-05-01", "toxicity"  # P0000's regimen ends
    with django_capture_on_commit_callbacks(execute=True):
        report = import_clinical(data=csv_bytes(rows), filename="x.csv")
    assert report.counts["regimens updated"] == 1
    assert requested == [("bulk", [Patient.objects.get(study_id="P0000").pk])]


def test_the_responses_are_computed_after_the_import(site, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert import_clinical(data=csv_bytes(cohort(3)), filename="x.csv").ok
    assert ResponseAssessment.objects.filter(status="done").count() == 3  # one ICI regimen each


def test_a_dry_run_and_a_rejected_file_announce_nothing(site, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert import_clinical(data=csv_bytes(cohort(2)), filename="x.csv", dry_run=True).ok
        bad = cohort(2)
        bad[0]["tumour_type"] = "nope"
        assert not import_clinical(data=csv_bytes(bad), filename="x.csv").ok
    assert callbacks == [] and not Patient.objects.exists()


def test_history_rows_for_created_and_changed_rows_with_their_agents(site):
    curator = UserFactory(username="curator-h", role="curator")
    assert import_clinical(data=csv_bytes(cohort(1)), filename="first.csv", user=curator).ok
    patient = Patient.objects.get()
    (created,) = patient.history.all()
    assert (created.history_type, created.history_user, created.history_change_reason) == (
        "+", curator, "import_clinical first.csv")
    regimen = patient.regimens.get()
    (regimen_created,) = regimen.history.all()
    assert [a.drug.name for a in regimen_created.agents.all()] == ["pembrolizumab"]
    for model in (PatientIdentity, Outcome, Biomarker, AdverseEvent):
        assert model.history.filter(history_type="+").count() == model.objects.count() > 0

    rows = cohort(1, agents="nivolumab; ipilimumab", end_date="2023-06-01")
    rows[0]["stage"] = "IVB"
    updated_at = patient.updated_at
    report = import_clinical(data=csv_bytes(rows), filename="second.csv", user=curator)
    assert report.counts == {"patients updated": 1, "identities unchanged": 1, "outcomes unchanged": 1,
                             "regimens updated": 1, "biomarkers unchanged": 2, "adverse events unchanged": 1}
    patient.refresh_from_db()
    assert patient.stage == "IVB" and patient.updated_at > updated_at
    latest = patient.history.first()
    assert latest.history_type == "~" and latest.diff_against(created).changed_fields == ["stage"]
    regimen.refresh_from_db()
    assert sorted(regimen.agents.values_list("name", flat=True)) == ["ipilimumab", "nivolumab"]
    assert regimen.end_date == dt.date(2023, 6, 1)
    changed = regimen.history.first()
    assert changed.history_type == "~" and sorted(a.drug.name for a in changed.agents.all()) == [
        "ipilimumab", "nivolumab"]
    assert [a.drug.name for a in regimen.history.last().agents.all()] == ["pembrolizumab"]  # the first version kept


def meanwhile(monkeypatch, change):
    """Run ``change`` after the file is checked and before its write transaction starts."""
    run = clinical.ClinicalCheck.run

    def checked(self, rows):
        write = run(self, rows)
        change()
        return write

    monkeypatch.setattr(clinical.ClinicalCheck, "run", checked)


def test_a_row_changed_between_the_check_and_the_write_is_refused(site, monkeypatch):
    assert import_clinical(data=csv_bytes(cohort(2)), filename="x.csv").ok
    # a curator's edit while the file is checked
    meanwhile(monkeypatch, lambda: Patient.objects.filter(study_id="P0000").update(stage="IIIA"))
    rows = cohort(2)
    rows[0]["stage"], rows[5]["histology"] = "IVB", "adenocarcinoma"
    rows.extend(cohort(1, start=50))
    report = import_clinical(data=csv_bytes(rows), filename="x.csv")
    ((row, _, message),) = [(p.row, p.column, p.message) for p in report.problems]
    assert row == 0 and "changed in the database while it was being checked" in message
    assert Patient.objects.get(study_id="P0000").stage == "IIIA"  # the edit is kept, not overwritten
    assert not Patient.objects.filter(study_id="P0050").exists()  # and nothing else was written
    assert ImportRun.objects.latest("created_at").status == "rejected"


def test_a_patient_created_between_the_check_and_the_write_is_refused(site, monkeypatch):
    meanwhile(monkeypatch, lambda: PatientFactory(site=site, study_id="P0001"))  # another import of the patient
    report = import_clinical(data=csv_bytes(cohort(2)), filename="x.csv")
    ((row, _, message),) = [(p.row, p.column, p.message) for p in report.problems]
    assert row == 0 and "The database refused the import (IntegrityError)" in message
    assert list(Patient.objects.values_list("study_id", flat=True)) == ["P0001"]


def test_irAEs_link_to_the_latest_regimen_started_before_them_recorded_or_in_the_file(site):
    recorded = PatientFactory(site=site, study_id="R1")
    line_1 = RegimenFactory(patient=recorded, start_date=dt.date(2023, 1, 1), agents=["nivolumab"])
    rows = [
        {"record_id": "R1", "redcap_repeat_instrument": "treatment", "line_of_therapy": "2", "agents": "pembrolizumab",
         "start_date": "2023-06-01"},
        {"record_id": "R1", "redcap_repeat_instrument": "adverse_event", "ae_term": "colitis", "ae_grade": "2",
         "ae_onset_date": "2023-03-01"},
        {"record_id": "R1", "redcap_repeat_instrument": "adverse_event", "ae_term": "hepatitis", "ae_grade": "3",
         "ae_onset_date": "2023-07-01"},
        {"record_id": "R1", "redcap_repeat_instrument": "adverse_event", "ae_term": "pneumonitis", "ae_grade": "1",
         "ae_onset_date": "2022-07-01"},
    ]
    report = import_clinical(data=csv_bytes(rows), filename="x.csv")  # no patient row: the recorded patient
    assert report.ok, report.problems
    line_2 = recorded.regimens.get(line_of_therapy=2)
    events = {e.term: e.regimen for e in AdverseEvent.objects.all()}
    assert events == {"colitis": line_1, "hepatitis": line_2, "pneumonitis": None}


def test_the_same_record_twice_in_a_file_is_a_problem_naming_both_rows(site):
    rows = cohort(1)
    rows += [dict(rows[1]), dict(rows[2], value="300"), dict(rows[4])]
    report = import_clinical(data=csv_bytes(rows), filename="x.csv")
    assert {(p.row, p.column) for p in report.problems} == {(7, "start_date"), (8, "measured_on"),
                                                            (9, "ae_onset_date")}
    assert all("also in row" in p.message for p in report.problems)


def test_line_of_therapy_zero_is_a_problem_not_line_one(site):
    rows = cohort(1)
    rows[1]["line_of_therapy"] = "0"
    report = import_clinical(data=csv_bytes(rows), filename="x.csv")
    assert [(p.row, p.column) for p in report.problems] == [(3, "line_of_therapy")]


def test_an_identity_is_updated_and_a_patient_row_without_one_leaves_it(site):
    assert import_clinical(data=csv_bytes(cohort(1)), filename="x.csv").ok
    rows = cohort(1)
    rows[0]["family_name"] = "Newname"
    assert import_clinical(data=csv_bytes(rows), filename="x.csv").counts["identities written"] == 1
    assert PatientIdentity.objects.get().family_name == "Newname"
    for column in ("mrn", "family_name", "given_name", "date_of_birth"):
        rows[0][column] = ""
    report = import_clinical(data=csv_bytes(rows), filename="x.csv")
    assert "identities written" not in report.counts and PatientIdentity.objects.get().mrn == "MRN-000000"


def test_nothing_is_written_by_a_file_with_one_bad_row_among_many(site):
    rows = cohort(30)
    rows[-1]["ae_grade"] = "7"
    report = import_clinical(data=csv_bytes(rows), filename="x.csv")
    assert [(p.row, p.column) for p in report.problems] == [(151, "ae_grade")]
    assert report.counts["patients created"] == 30  # what it would have written
    for model in (Patient, PatientIdentity, Outcome, TreatmentRegimen, Biomarker, AdverseEvent):
        assert not model.objects.exists() and not model.history.exists()
    assert not TreatmentRegimen.agents.through.objects.exists()
