"""The placement layer of ingest: a file's patient, study and series rows, each looked up once per run."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from imaging.compute.dicom_headers import read_dicom_header
from imaging.ingest import Outcome
from imaging.ingest.placement import Placement
from imaging.models import IngestJob, Series, Study
from tests.imaging.test_ingest_helpers import patient_with_mrn, write_study

pytestmark = pytest.mark.django_db


def series_queries(queries):
    return [q["sql"] for q in queries if q["sql"].lstrip().startswith("SELECT") and
            f'FROM "{Series._meta.db_table}"' in q["sql"]]


def test_a_new_series_is_looked_up_once_and_then_comes_from_the_run(tmp_path):
    """A new series used to be looked up twice (once to check which study holds it, once to create it)."""
    study = write_study(tmp_path / "study")
    patient = patient_with_mrn()
    first, second = (read_dicom_header(p.read_bytes()) for p in study.ct_paths[:2])
    placement = Placement(IngestJob.objects.create(source="import"))
    with CaptureQueriesContext(connection) as placing:
        placed_study, series = placement.place(first, patient)
    assert len(series_queries(placing.captured_queries)) == 1
    assert series.series_instance_uid == study.series_uid and placed_study.patient == patient
    with CaptureQueriesContext(connection) as again:
        assert placement.place(second, patient) == (placed_study, series)
    assert series_queries(again.captured_queries) == []  # the run's own rows are not looked up again


def test_a_stored_series_in_another_study_is_refused_before_any_row_is_written(tmp_path):
    study = write_study(tmp_path / "study")
    patient = patient_with_mrn()
    header = read_dicom_header(study.ct_paths[0].read_bytes())
    Placement(IngestJob.objects.create(source="import")).place(header, patient)
    moved = {**header, "study_instance_uid": "1.2.826.0.1.3680043.8.498.1"}
    refusal = Placement(IngestJob.objects.create(source="import")).place(moved, patient)
    assert isinstance(refusal, Outcome) and (refusal.kind, refusal.code) == ("quarantined", "patient_mismatch")
    assert "UIDs are inconsistent" in refusal.reason and Study.objects.count() == 1
