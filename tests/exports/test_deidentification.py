"""Nothing that identifies a person leaves in an export: not in the files (CSV bytes, Parquet bytes and decoded
values), not in the manifest, not in the log lines written while exporting.

The models hold no AccessionNumber or PatientName column: where a DICOM header could bring such text in (study and
series descriptions, segment and segmentation names, quarantined files), the fixture puts it.
"""
import logging

import pytest

from patients.models import Patient, PatientIdentity
from tests.exports.conftest import IDENTIFYING
from tests.exports.helpers import cells, export, manifest, read_csv

pytestmark = pytest.mark.django_db


def _forbidden(project):
    texts = dict(IDENTIFYING)
    for identity in PatientIdentity.objects.all():
        texts[f"mrn {identity.patient_id}"] = identity.mrn
    if project is not None:  # a pseudonymising project: neither study IDs nor site codes or names
        for patient in Patient.objects.select_related("site"):
            texts[f"study id {patient.pk}"] = patient.study_id
            texts[f"site {patient.site.code}"] = patient.site.code
            texts[f"site name {patient.site.code}"] = patient.site.name
    return texts


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("pseudonymised", [True, False])
def test_no_identifying_data_in_files_manifest_or_logs(identified_cohort, project, tmp_path, caplog, fmt,
                                                       pseudonymised):
    caplog.set_level(logging.DEBUG)
    args = ["--format", fmt, "--sdtm"] + (["--project", project.slug] if pseudonymised else [])
    out = export(tmp_path, "out", *args)
    forbidden = _forbidden(project if pseudonymised else None)
    files = sorted(out.iterdir())
    assert len(files) == 14  # ten research tables, three SDTM domains, the manifest
    for path in files:
        data = path.read_bytes()
        for what, text in forbidden.items():
            assert text.encode() not in data, f"{what} ({text}) in {path.name}"
    for name, value in cells(out):
        for what, text in forbidden.items():
            assert text not in value, f"{what} ({text}) in {name}: {value!r}"
        assert value not in ("1931", "1950", "1951", "1952", "1953", "1954", "1955"), f"a year of birth in {name}"
    log = "\n".join(record.getMessage() for record in caplog.records)
    assert "export" in log  # the export did log
    for what, text in forbidden.items():
        assert text not in log, f"{what} ({text}) in the log"


def test_dates_become_days_and_the_oldest_age_is_pooled(identified_cohort, tmp_path):
    out = export(tmp_path)
    patients = read_csv(out / "patients.csv")
    assert len(patients) == 6 and manifest(out)["excluded_patients"] == {"no ICI regimen": 1}
    ages = sorted(p["age_at_ici_start"] for p in patients)
    assert "90+" in ages and "93" not in ages  # 2024 - 1931 = 93
    assert {p["stage"] for p in patients} == {"IVA", ""}  # the stage typed as a name is left empty
    regimens = read_csv(out / "regimens.csv")
    assert {r["start_day"] for r in regimens if r["first_ici"] == "true"} == {"0"}
    assert {r["start_day"] for r in regimens if r["first_ici"] == "false"} == {"150"}
    lesions = read_csv(out / "lesions.csv")
    assert {r["lesion"] for r in lesions} == {"T01", "T02", "NEW01"}
    columns = set().union(*(set(r) for r in read_csv(out / "adverse_events.csv")))
    assert "term_other" not in columns


def test_pseudonyms_are_keyed_hashes_stable_per_project_and_different_between_projects(identified_cohort, project,
                                                                                     tmp_path):
    from exports.models import ExportProject

    other = ExportProject.objects.create(name="Other", slug="other")
    first = {r["pseudonym"] for r in read_csv(export(tmp_path, "a", "--project", project.slug) / "patients.csv")}
    again = {r["pseudonym"] for r in read_csv(export(tmp_path, "b", "--project", project.slug) / "patients.csv")}
    elsewhere = {r["pseudonym"] for r in read_csv(export(tmp_path, "c", "--project", other.slug) / "patients.csv")}
    assert first == again and not first & elsewhere
    assert all(p.startswith("P") and len(p) == 17 for p in first)
