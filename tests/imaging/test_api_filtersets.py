"""imaging.filtersets through the API: each filter keeps the row it names and drops the other one."""
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from imaging.filtersets import (
    FeatureSetFilterSet,
    IngestJobFilterSet,
    QuarantinedFileFilterSet,
    SegmentFilterSet,
    SeriesFilterSet,
)
from imaging.models import (
    ExtractionProfile,
    FeatureSet,
    IngestJob,
    QuarantinedFile,
    Segment,
    Segmentation,
    Series,
    Study,
)
from tests.factories import LesionFactory, PatientFactory

pytestmark = pytest.mark.django_db

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


def _series(patient, n, *, modality, volume_status):
    study = Study.objects.create(patient=patient, study_instance_uid=f"1.2.826.0.1.{n}")
    return Series.objects.create(study=study, series_instance_uid=f"1.2.826.0.2.{n}", modality=modality,
                                 sop_class_uid=CT_IMAGE_STORAGE, volume_status=volume_status,
                                 volume_message="a slice is missing" if volume_status == "failed" else "")


def _segment(series, *, lesion, proposal_status):
    segmentation = Segmentation.objects.create(kind="labelmap", image_series=series, file=f"seg-{series.pk}.nrrd",
                                               sha256="0" * 64)
    return Segment.objects.create(
        segmentation=segmentation, number=1, label="T1" if lesion else "unnamed", lesion=lesion,
        lesion_mapping="label" if lesion else "unmatched", mask_file=f"mask-{series.pk}.nrrd", mask_sha256="1" * 64,
        voxel_count=0 if proposal_status == "empty" else 100, volume_mm3=0.0 if proposal_status == "empty" else 80.0,
        proposal_status=proposal_status)


@pytest.fixture
def rows(settings):
    """Two of everything, differing in every filtered field."""
    settings.RADIMMUNO_AUTO_EXTRACT = False  # the feature sets below are the only ones
    a, b = PatientFactory(study_id="FILT-A"), PatientFactory(study_id="FILT-B")
    series_a = _series(a, 1, modality="CT", volume_status="ok")
    series_b = _series(b, 2, modality="MR", volume_status="failed")
    segment_a = _segment(series_a, lesion=LesionFactory(patient=a), proposal_status="proposed")
    segment_b = _segment(series_b, lesion=None, proposal_status="empty")
    profile_a = ExtractionProfile.objects.create(name="filter-a", version=1, params={}, params_hash="a" * 64)
    profile_b = ExtractionProfile.objects.create(name="filter-b", version=1, params={}, params_hash="b" * 64)
    now = timezone.now()
    return {
        "series": (series_a, series_b),
        "segments": (segment_a, segment_b),
        "profiles": (profile_a, profile_b),
        "feature_sets": (
            FeatureSet.objects.create(segment=segment_a, profile=profile_a, region="lesion", status="done",
                                      feature_count=2, features={"original_firstorder_Mean": 1.5, "x": 2.0}),
            FeatureSet.objects.create(segment=segment_b, profile=profile_b, region="ring_0-3mm", status="failed",
                                      error="mask has no voxels", finished_at=now),
        ),
        "jobs": (IngestJob.objects.create(source="upload", status="done"),
                 IngestJob.objects.create(source="network", status="failed")),
        "quarantine": (
            QuarantinedFile.objects.create(reason_code="not_dicom", reason="a PDF", file="q/a", sha256="a" * 64,
                                           size_bytes=10, source="upload"),
            QuarantinedFile.objects.create(reason_code="unknown_patient", reason="no such MRN", file="q/b",
                                           sha256="b" * 64, size_bytes=10, source="network"),
        ),
    }


@pytest.fixture
def api(admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)  # a superuser: every ingest job (others see their own) and the quarantine
    return client


def _ids(api, path, params):
    response = api.get(path, params)
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def _one_in_one_out(api, path, kept, dropped, params):
    assert {kept.pk, dropped.pk} <= _ids(api, path, {})
    assert _ids(api, path, params) == {kept.pk}, params


# Each case: the query (a dict, or a function of the rows for ids), and which of the two rows it keeps.
def _query(rows, params):
    return params(rows) if callable(params) else params


@pytest.mark.parametrize("params, kept", [
    ({"status": "done"}, 0), ({"status": "failed"}, 1), ({"source": "upload"}, 0), ({"source": "network"}, 1),
])
def test_ingest_jobs(api, rows, params, kept):
    jobs = rows["jobs"]
    _one_in_one_out(api, "/api/v1/imaging/ingest-jobs/", jobs[kept], jobs[1 - kept], _query(rows, params))


@pytest.mark.parametrize("params, kept", [
    ({"modality": "CT"}, 0), ({"volume_status": "failed"}, 1), ({"patient": "FILT-A"}, 0),
    (lambda r: {"study__patient": r["series"][1].study.patient_id}, 1),
])
def test_series(api, rows, params, kept):
    series = rows["series"]
    _one_in_one_out(api, "/api/v1/imaging/series/", series[kept], series[1 - kept], _query(rows, params))


@pytest.mark.parametrize("params, kept", [
    ({"proposal_status": "proposed"}, 0), ({"lesion_mapping": "unmatched"}, 1), ({"patient": "FILT-B"}, 1),
    (lambda r: {"lesion": r["segments"][0].lesion_id}, 0), (lambda r: {"series": r["series"][1].pk}, 1),
])
def test_segments(api, rows, params, kept):
    segments = rows["segments"]
    _one_in_one_out(api, "/api/v1/imaging/segments/", segments[kept], segments[1 - kept], _query(rows, params))


@pytest.mark.parametrize("params, kept", [
    ({"reason_code": "not_dicom"}, 0), ({"source": "network"}, 1),
])
def test_quarantine(api, rows, params, kept):
    files = rows["quarantine"]
    _one_in_one_out(api, "/api/v1/imaging/quarantine/", files[kept], files[1 - kept], _query(rows, params))


def test_quarantine_lists_open_files_only_whatever_the_status_filter(api, rows):
    """The endpoint is the curators' open queue (``selectors.quarantine_open``); ``status`` narrows within it."""
    kept, closed = rows["quarantine"]
    QuarantinedFile.objects.filter(pk=closed.pk).update(status="resolved", resolved_at=timezone.now())
    assert _ids(api, "/api/v1/imaging/quarantine/", {"status": "open"}) == {kept.pk}
    assert _ids(api, "/api/v1/imaging/quarantine/", {"status": "resolved"}) == set()


@pytest.mark.parametrize("params, kept", [
    ({"status": "done"}, 0), ({"region": "ring_0-3mm"}, 1), ({"patient": "FILT-A"}, 0),
    (lambda r: {"profile": r["profiles"][1].pk}, 1), (lambda r: {"segment": r["segments"][0].pk}, 0),
    (lambda r: {"series": r["series"][1].pk}, 1),
])
def test_feature_sets(api, rows, params, kept):
    feature_sets = rows["feature_sets"]
    _one_in_one_out(api, "/api/v1/imaging/feature-sets/", feature_sets[kept], feature_sets[1 - kept],
                    _query(rows, params))


def test_feature_set_list_is_light_and_its_detail_has_the_features(api, rows, django_assert_max_num_queries):
    with django_assert_max_num_queries(5):  # + the role's permissions and the user's sites (accounts.access), once per request
        listed = api.get("/api/v1/imaging/feature-sets/", {"patient": "FILT-A"}).json()["results"]
    assert [r["lesion_label"] for r in listed] == [rows["segments"][0].lesion.label]
    assert listed[0]["patient"] == "FILT-A" and listed[0]["profile_name"] == "filter-a"
    assert "features" not in listed[0] and listed[0]["segment"].endswith(f"/segments/{rows['segments'][0].pk}/")
    detail = api.get(listed[0]["url"]).json()
    assert detail["features"] == {"original_firstorder_Mean": 1.5, "x": 2.0}


def test_an_unknown_choice_is_refused_not_ignored(api, rows):
    assert api.get("/api/v1/imaging/series/", {"volume_status": "bogus"}).status_code == 400
    assert api.get("/api/v1/imaging/feature-sets/", {"status": "bogus"}).status_code == 400


def test_the_viewsets_use_the_shared_filtersets():
    from imaging.api import views

    assert views.IngestJobViewSet.filterset_class is IngestJobFilterSet
    assert views.SeriesViewSet.filterset_class is SeriesFilterSet
    assert views.SegmentViewSet.filterset_class is SegmentFilterSet
    assert views.QuarantineViewSet.filterset_class is QuarantinedFileFilterSet
    assert views.FeatureSetViewSet.filterset_class is FeatureSetFilterSet


def test_the_schema_is_valid_and_documents_every_filter():
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)
    for path, filterset in [("ingest-jobs", IngestJobFilterSet), ("series", SeriesFilterSet),
                            ("segments", SegmentFilterSet), ("quarantine", QuarantinedFileFilterSet),
                            ("feature-sets", FeatureSetFilterSet)]:
        documented = {p["name"] for p in schema["paths"][f"/api/v1/imaging/{path}/"]["get"]["parameters"]}
        assert set(filterset.base_filters) <= documented, path
