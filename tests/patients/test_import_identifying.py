"""Clinical import, issue 15: no identifying value (PatientIdentity: names, MRN, date of birth) in any message — the
ImportRun's problems, the report, the command's output, the page, the logs — whatever is wrong with it."""
import csv
import io
import logging

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from patients.importer import COLUMNS, import_clinical
from patients.models import ImportRun, Patient, PatientIdentity
from tests.factories import IdentityFactory, PatientFactory, SiteFactory

pytestmark = pytest.mark.django_db

LONG_MRN = "QZXMRN" + "7" * 59  # 65 characters: one too many
LONG_FAMILY = "Zyxfamilia" * 10 + "q"  # 101
LONG_GIVEN = "Qwgivenname" * 9 + "xx"  # 101
BAD_DOB = "1961-02-30"
FUTURE_DOB = "2049-04-02"  # issue 15: "Date of birth (2049-04-02) is in the future" was stored in ImportRun.problems
MISMATCHED_DOB = "1957-03-14"
DUPLICATE_MRN = "QZX-DUP-4411"
TAKEN_MRN = "QZX-TAKEN-9001"
SHIFTED_NAME = "Zwanzigerova"
NUL_NAME = "Kl\x00araqx"
VALID = {"mrn": "QZX-OK-5555", "family_name": "Validqxfamily", "given_name": "Validqxgiven",
         "date_of_birth": "1970-05-05"}
SECRETS = [LONG_MRN, LONG_FAMILY, LONG_GIVEN, BAD_DOB, FUTURE_DOB, MISMATCHED_DOB, DUPLICATE_MRN, TAKEN_MRN,
           SHIFTED_NAME, "Kl\x00araqx", "araqx", "Brzeczyszczykiewicz", "Grzegorzqx", *VALID.values()]


@pytest.fixture
def site(db):
    site = SiteFactory(code="DEMO-A", name="Demo A")
    IdentityFactory(patient=PatientFactory(site=site, study_id="OTHER-1"), mrn=TAKEN_MRN)
    return site


def patient(study_id, **fields):
    return {"record_id": study_id, "site": "DEMO-A", "tumour_type": "melanoma", **fields}


ROWS = [
    # every identifying column wrong at once: too long, not a date
    patient("P-A", mrn=LONG_MRN, family_name=LONG_FAMILY, given_name=LONG_GIVEN, date_of_birth=BAD_DOB),
    # a date of birth in the future
    patient("P-B", mrn=DUPLICATE_MRN, family_name="Brzeczyszczykiewicz", given_name="Grzegorzqx",
            date_of_birth=FUTURE_DOB),
    # the MRN of the row above; a date of birth whose year is not the year of birth
    patient("P-C", mrn=DUPLICATE_MRN, date_of_birth=MISMATCHED_DOB, year_of_birth="1960"),
    # the MRN of a recorded patient
    patient("P-D", mrn=TAKEN_MRN),
    # a name shifted into another column; a NUL byte in a name
    patient("P-E", family_name=SHIFTED_NAME, sex=SHIFTED_NAME),
    patient("P-F", given_name=NUL_NAME),
    # valid identifying data in a row with other problems
    patient("P-G", **VALID, year_of_birth="1970", stage="IV" * 20),
    # an MRN given as the study ID of a biomarker row (a study ID that is an MRN)
    {"record_id": DUPLICATE_MRN, "redcap_repeat_instrument": "biomarker", "biomarker": "ldh", "value": "200",
     "measured_on": "2024-01-01"},
]


def csv_bytes(rows):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def leaked(*texts):
    text = "\n".join(texts).lower()
    return [secret for secret in SECRETS if secret.lower() in text]


def test_no_identifying_value_in_any_message(site, tmp_path, client, curator, caplog):
    caplog.set_level(logging.DEBUG)
    data = csv_bytes(ROWS)
    report = import_clinical(data=data, filename="identities.csv")

    found = {(p.row, p.column) for p in report.problems}
    assert {(2, "mrn"), (2, "family_name"), (2, "given_name"), (2, "date_of_birth"), (3, "date_of_birth"),
            (4, "mrn"), (4, "date_of_birth"), (5, "mrn"), (6, "sex"), (7, "given_name"), (8, "stage"),
            (9, "record_id")} <= found, found
    messages = {(p.row, p.column): p.message for p in report.problems}
    assert messages[(3, "date_of_birth")] == "The date of birth is in the future."
    assert "row 3" in messages[(4, "mrn")] and "already recorded for another patient" in messages[(5, "mrn")]

    path = tmp_path / "identities.csv"
    path.write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_clinical", str(path), stdout=out, stderr=err)
    client.force_login(curator)
    upload = io.BytesIO(data)
    upload.name = "identities.csv"
    page = client.post("/patients/import/", {"file": upload}).content.decode()
    assert "Rejected" in page

    runs = [str(run.problems) + str(run.summary) for run in ImportRun.objects.all()]
    assert len(runs) == 3 and all(run.status == "rejected" for run in ImportRun.objects.all())
    assert leaked(*runs, *map(str, report.problems), *report.summary_lines(), out.getvalue(), err.getvalue(), page,
                  caplog.text) == []
    assert not PatientIdentity.objects.exclude(mrn=TAKEN_MRN).exists()


def test_valid_identifying_data_is_written_and_shown_nowhere(site, caplog):
    caplog.set_level(logging.DEBUG)
    report = import_clinical(data=csv_bytes([patient("P-G", **VALID, year_of_birth="1970")]), filename="ok.csv")
    assert report.ok, report.problems
    identity = Patient.objects.get(study_id="P-G").identity
    assert (identity.mrn, identity.family_name, identity.date_of_birth.isoformat()) == (
        VALID["mrn"], VALID["family_name"], VALID["date_of_birth"])
    run = ImportRun.objects.get()
    assert leaked(str(run.problems), str(run.summary), *report.summary_lines(), caplog.text) == []


def test_an_identifying_value_echoed_by_another_column_is_not_shown(site):
    """Defence in depth: a message quoting a value that the file holds in an identifying column (here a column
    shift put the family name into ``tumour_type``) says the row is wrong without the quote."""
    report = import_clinical(data=csv_bytes([patient("P-X", family_name="Quuxleynamex", tumour_type="Quuxleynamex")]),
                             filename="x.csv")
    ((row, column, message),) = [(p.row, p.column, p.message) for p in report.problems]
    assert (row, column) == (2, "tumour_type") and "Quuxleynamex".lower() not in message.lower()
    assert "not shown" in message
