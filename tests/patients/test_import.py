"""Clinical import: all-or-nothing, every bad row reported, idempotent, no identifying values in messages."""
import csv
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from imaging.models import Timepoint
from patients.importer import COLUMNS, import_clinical
from patients.models import (
    AdverseEvent,
    Biomarker,
    ImportRun,
    Outcome,
    Patient,
    PatientIdentity,
    TreatmentRegimen,
)
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "clinical_import_example.csv"
CLINICAL_MODELS = [Patient, PatientIdentity, TreatmentRegimen, Biomarker, AdverseEvent, Outcome, Timepoint]


@pytest.fixture
def site(db):
    return SiteFactory(code="DEMO-A", name="Demo A")


def snapshot():
    """Every clinical row (and its history count) as plain values, to compare database states."""
    state = {}
    for model in CLINICAL_MODELS:
        state[model.__name__] = sorted(map(str, model.objects.values_list()))
        state[model.__name__ + " history"] = model.history.count()
    state["agents"] = sorted(TreatmentRegimen.agents.through.objects.values_list("treatmentregimen_id", "drug_id"))
    return state


def csv_bytes(rows):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue().encode()


def test_example_file_imports_and_twice_is_the_same_as_once(site):
    call_command("import_clinical", str(EXAMPLE), stdout=io.StringIO())
    once = snapshot()
    assert Patient.objects.count() == 2 and TreatmentRegimen.objects.count() == 2
    assert AdverseEvent.objects.get(term="colitis").grade == 3
    call_command("import_clinical", str(EXAMPLE), stdout=io.StringIO())
    assert snapshot() == once


def test_changed_value_updates_the_patient(site):
    rows = [{"record_id": "P1", "site": "DEMO-A", "tumour_type": "melanoma", "year_of_birth": "1970"}]
    import_clinical(data=csv_bytes(rows), filename="a.csv")
    rows[0]["stage"] = "IVB"
    report = import_clinical(data=csv_bytes(rows), filename="a.csv")
    assert report.counts == {"patients updated": 1}
    assert Patient.objects.get(study_id="P1").stage == "IVB"


def test_bad_rows_change_nothing_and_every_problem_is_reported(site):
    call_command("import_clinical", str(EXAMPLE), stdout=io.StringIO())
    before = snapshot()
    rows = [
        {"record_id": "OK-1", "site": "DEMO-A", "tumour_type": "nsclc"},  # fine on its own
        {"record_id": "BAD-1", "site": "NOWHERE", "tumour_type": "nsclc"},
        {"record_id": "BAD-2", "site": "DEMO-A", "tumour_type": "lymphoma", "diagnosis_date": "31/12/2023"},
        {"record_id": "OK-1", "redcap_repeat_instrument": "treatment", "agents": "pembrolizumab; wonderumab",
         "start_date": "2024-01-01"},
        {"record_id": "OK-1", "redcap_repeat_instrument": "treatment", "agents": "nivolumab",
         "start_date": "2024-03-01", "end_date": "2024-02-01"},
        {"record_id": "OK-1", "redcap_repeat_instrument": "biomarker", "biomarker": "pdl1_tps", "value": "150",
         "measured_on": "2024-01-01"},
        {"record_id": "OK-1", "redcap_repeat_instrument": "adverse_event", "ae_term": "colitis", "ae_grade": "6",
         "ae_onset_date": "2024-02-01"},
        {"record_id": "GHOST", "redcap_repeat_instrument": "biomarker", "biomarker": "tmb", "value": "10",
         "measured_on": "2024-01-01"},
        {"record_id": "OK-2", "site": "DEMO-A", "tumour_type": "nsclc", "mrn": "SECRET-MRN-1",
         "date_of_birth": "1950-13-45", "year_of_birth": "1950"},
    ]
    report = import_clinical(data=csv_bytes(rows), filename="bad.csv")
    found = {(p.row, p.column) for p in report.problems}
    assert found == {
        (3, "site"), (4, "tumour_type"), (4, "diagnosis_date"), (5, "agents"), (6, "end_date"), (7, "value"),
        (8, "ae_grade"), (9, "record_id"), (10, "date_of_birth"),
    }
    messages = {(p.row, p.column): p.message for p in report.problems}
    assert "Unknown site 'NOWHERE'; known site codes: DEMO-A" in messages[(3, "site")]
    assert "use YYYY-MM-DD" in messages[(4, "diagnosis_date")]
    assert "wonderumab" in messages[(5, "agents")]
    assert "before the start date" in messages[(6, "end_date")]
    assert "≤ 100" in messages[(7, "value")]
    assert "grade must be 1 to 5" in messages[(8, "ae_grade")]
    assert "GHOST has no patient row" in messages[(9, "record_id")]
    assert all("1950-13-45" not in p.message and "SECRET" not in p.message for p in report.problems)
    assert snapshot() == before
    assert ImportRun.objects.latest("created_at").status == "rejected"


def test_command_exits_non_zero_with_the_report(site, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes([{"record_id": "X", "site": "DEMO-A", "tumour_type": "nope"}]))
    err = io.StringIO()
    with pytest.raises(CommandError, match="Import rejected"):
        call_command("import_clinical", str(bad), stdout=io.StringIO(), stderr=err)
    assert "row 2, column 'tumour_type': 'nope' is not one of" in err.getvalue()
    assert not Patient.objects.exists()


def test_dry_run_writes_nothing(site):
    report = import_clinical(data=EXAMPLE.read_bytes(), filename=EXAMPLE.name, dry_run=True)
    assert report.ok and report.counts["patients created"] == 2
    assert not Patient.objects.exists()
    assert ImportRun.objects.get().status == "dry-run"


def test_unknown_column_and_unreadable_file(site):
    report = import_clinical(data=b"record_id,favourite_colour\nP1,blue\n", filename="x.csv")
    assert [(p.row, p.column) for p in report.problems] == [(1, "favourite_colour")]
    report = import_clinical(data=b"\xff\xfe\x00garbage", filename="x.csv")
    assert "not UTF-8" in report.problems[0].message
    report = import_clinical(data=b"PK\x03\x04 not really a workbook", filename="x.xlsx")
    assert "could not be read" in report.problems[0].message
    report = import_clinical(data=b"whatever", filename="x.pdf")
    assert "Unsupported file type '.pdf'" in report.problems[0].message


def test_xlsx_gives_the_same_result_as_csv(site, tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for row in csv.reader(io.StringIO(EXAMPLE.read_text())):
        sheet.append(row)
    path = tmp_path / "example.xlsx"
    workbook.save(path)
    import_clinical(data=path.read_bytes(), filename=path.name)
    from_xlsx = snapshot()
    import_clinical(data=EXAMPLE.read_bytes(), filename=EXAMPLE.name)
    assert snapshot() == from_xlsx


def test_upload_page_full_and_htmx(client, curator, site, htmx_headers):
    client.force_login(curator)
    page = client.get("/patients/import/")
    assert page.status_code == 200 and b"<html" in page.content and b"Recent imports" in page.content
    with EXAMPLE.open("rb") as f:
        response = client.post("/patients/import/", {"file": f, "dry_run": ""}, **htmx_headers)
    assert response.status_code == 200
    assert b"<html" not in response.content and b"Imported" in response.content
    assert Patient.objects.count() == 2
    assert ImportRun.objects.get().started_by == curator


def test_upload_page_shows_problems(client, curator, site):
    client.force_login(curator)
    bad = io.BytesIO(csv_bytes([{"record_id": "X", "site": "DEMO-A", "tumour_type": "nope"}]))
    bad.name = "bad.csv"
    response = client.post("/patients/import/", {"file": bad})
    assert response.status_code == 200
    assert b"Rejected: 1 problem, nothing was written" in response.content
    assert not Patient.objects.exists()


def test_upload_page_needs_permission(client_logged_in):
    assert client_logged_in.get("/patients/import/").status_code == 403
