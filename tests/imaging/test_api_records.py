"""The imaging app's API for every record: studies, timepoints, lesions, measurements (cursor), segmentations,
extraction profiles and feature values (long format, cursor, name pattern); writes through the same services as the
lesion table, with the model's messages; list queries flat."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from imaging.models import ExtractionProfile, FeatureSet, LesionMeasurement, Timepoint
from tests.factories import LesionFactory, MeasurementFactory, PatientFactory, TimepointFactory
from tests.imaging.test_api_filtersets import _segment, _series

pytestmark = pytest.mark.django_db
API = "/api/v1/imaging/"





def _feature_sets(n, settings):
    settings.RADIMMUNO_AUTO_EXTRACT = False
    profile = ExtractionProfile.objects.get_or_create(name="api-long", version=1, params={}, params_hash="c" * 64)[0]
    made = []
    for i in range(n):
        patient = PatientFactory()
        timepoint = TimepointFactory(patient=patient)
        series = _series(patient, 1000 + FeatureSet.objects.count(), modality="CT", volume_status="ok")
        series.study.timepoint = timepoint
        series.study.save()
        segment = _segment(series, lesion=LesionFactory(patient=patient), proposal_status="proposed")
        made.append(FeatureSet.objects.create(
            segment=segment, profile=profile, status="done", feature_count=3,
            features={"original_firstorder_Mean": 1.0 + i, "original_glcm_Contrast": 2.0, "original_shape_Volume": 9}))
    return made


def test_timepoints_lesions_and_measurements_are_written_as_the_lesion_table_writes_them(api_curator):
    patient = PatientFactory(study_id="IMG-API-1")
    made = api_curator.post(f"{API}timepoints/", {"patient": patient.pk, "date": "2024-03-01", "kind": "baseline"})
    assert made.status_code == 201 and made.json()["study_id"] == "IMG-API-1"
    again = api_curator.post(f"{API}timepoints/", {"patient": patient.pk, "date": "2024-03-01", "kind": "follow-up"})
    assert again.status_code == 200 and Timepoint.objects.get().kind == "follow-up"  # the same date: updated
    lesion = api_curator.post(f"{API}lesions/", {"patient": patient.pk, "label": "T1", "organ": "lung", "role": "target"})
    assert lesion.status_code == 201
    taken = api_curator.post(f"{API}lesions/", {"patient": patient.pk, "label": "T1", "organ": "liver", "role": "target"})
    assert taken.status_code == 400 and taken.json()  # the model's own message
    timepoint, lesion_id = made.json()["id"], lesion.json()["id"]
    negative = api_curator.post(f"{API}measurements/", {"lesion": lesion_id, "timepoint": timepoint, "size_mm": "-3"})
    assert negative.status_code == 400 and "size_mm" in negative.json() and not LesionMeasurement.objects.exists()
    recorded = api_curator.post(f"{API}measurements/", {"lesion": lesion_id, "timepoint": timepoint, "size_mm": "21.5"})
    assert recorded.status_code == 201 and recorded.json()["recorded_by"] == "curator"
    corrected = api_curator.post(f"{API}measurements/", {"lesion": lesion_id, "timepoint": timepoint, "size_mm": "22"})
    assert corrected.status_code == 200 and str(LesionMeasurement.objects.get().size_mm) == "22.00"
    other = TimepointFactory(patient=PatientFactory())
    crossed = api_curator.post(f"{API}measurements/", {"lesion": lesion_id, "timepoint": other.pk, "size_mm": "5"})
    assert crossed.status_code == 400 and crossed.json() == {"timepoint": ["This assessment belongs to another patient."]}


def test_reading_needs_no_write_permission_but_writing_does(api_reader):
    patient = PatientFactory()
    assert api_reader.get(f"{API}timepoints/").status_code == 200
    assert api_reader.post(f"{API}timepoints/", {"patient": patient.pk, "date": "2024-03-01",
                                                 "kind": "baseline"}).status_code == 403


def test_measurements_are_cursor_paginated(api_user):
    lesion = LesionFactory()
    for day in range(1, 8):
        MeasurementFactory(lesion=lesion, timepoint=TimepointFactory(patient=lesion.patient,
                                                                     date=f"2024-01-{day:02d}"))
    first = api_user.get(f"{API}measurements/", {"page_size": 3}).json()
    assert len(first["results"]) == 3 and "count" not in first and "cursor=" in first["next"]
    seen = [r["id"] for r in first["results"]]
    page = first
    while page["next"]:
        page = api_user.get(page["next"]).json()
        seen += [r["id"] for r in page["results"]]
    assert seen == sorted(LesionMeasurement.objects.values_list("pk", flat=True))


def test_feature_values_in_long_format_by_name_pattern(api_user, settings):
    sets = _feature_sets(3, settings)
    page = api_user.get(f"{API}feature-values/", {"feature": "original_firstorder_*,original_shape_*",
                                                "page_size": 2}).json()
    rows = page["results"]
    assert [(r["feature_set"], r["feature"]) for r in rows] == [
        (sets[0].pk, "original_firstorder_Mean"), (sets[0].pk, "original_shape_Volume"),
        (sets[1].pk, "original_firstorder_Mean"), (sets[1].pk, "original_shape_Volume")]
    assert rows[0]["value"] == 1.0 and rows[0]["profile"] == "api-long@v1" and rows[0]["lesion"]
    assert rows[0]["date"] == sets[0].segment.segmentation.image_series.study.timepoint.date.isoformat()
    rest = api_user.get(page["next"]).json()["results"]
    assert {r["feature_set"] for r in rest} == {sets[2].pk}
    one = api_user.get(f"{API}feature-values/", {"patient": rows[0]["patient"]}).json()["results"]
    assert len(one) == 3


def test_studies_segmentations_and_profiles_are_readable(api_user, settings):
    fs = _feature_sets(1, settings)[0]
    study = api_user.get(f"{API}studies/").json()["results"][0]
    assert study["series_count"] == 1 and study["timepoint"] is not None
    segmentation = api_user.get(f"{API}segmentations/").json()["results"][0]
    assert segmentation["segments"] == [fs.segment.pk]
    profile = api_user.get(f"{API}extraction-profiles/", {"name": "api-long"}).json()["results"][0]
    assert profile["version"] == 1 and profile["params_hash"] == "c" * 64


ROUTES = ["studies", "timepoints", "lesions", "measurements", "segmentations", "extraction-profiles",
          "feature-values", "feature-sets", "series", "segments"]


@pytest.mark.parametrize("route", ROUTES)
def test_list_queries_do_not_grow_with_the_table(api_user, route, settings):
    def queries():  # the second of two requests: the first loads the user's permissions and sites
        api_user.get(f"{API}{route}/")
        with CaptureQueriesContext(connection) as seen:
            assert api_user.get(f"{API}{route}/", {"page_size": 200}).status_code == 200
        return len(seen)

    def grow(n):
        for fs in _feature_sets(n, settings):
            MeasurementFactory(lesion=fs.segment.lesion,
                               timepoint=fs.segment.segmentation.image_series.study.timepoint)

    grow(2)
    few = queries()
    grow(12)
    assert queries() == few
