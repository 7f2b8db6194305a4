"""analytics.filtersets through the API: each filter keeps the row it names and drops the other one."""
import pytest
from rest_framework.test import APIClient

from analytics.filtersets import ResponseAssessmentFilterSet, TimepointResponseFilterSet
from analytics.models import ResponseAssessment, TimepointResponse
from tests.analytics.builders import patient_with_scans
from tests.factories import SiteFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def assessed(django_capture_on_commit_callbacks):
    """A responder (PR) and a progressor (PD, iUPD never confirmed), at different sites and tumour types."""
    with django_capture_on_commit_callbacks(execute=True):
        responder, *_ = patient_with_scans([(-5, 100), (56, 60), (112, 55)], study_id="RESP-1")
        progressor, *_ = patient_with_scans([(-5, 100), (56, 140)], study_id="PROG-1")
    responder.site, responder.tumour_type = SiteFactory(code="NORTH"), "melanoma"
    responder.save()
    progressor.site, progressor.tumour_type = SiteFactory(code="SOUTH"), "nsclc"
    progressor.save()
    return (ResponseAssessment.objects.get(patient=responder), ResponseAssessment.objects.get(patient=progressor))


@pytest.fixture
def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def _patients(api, path, params):
    response = api.get(path, params)
    assert response.status_code == 200, response.content
    return {row["patient"] for row in response.json()["results"]}


@pytest.mark.parametrize("params, kept", [
    ({"patient": "RESP-1"}, "RESP-1"), ({"site": "SOUTH"}, "PROG-1"), ({"tumour_type": "melanoma"}, "RESP-1"),
    ({"recist_bor": "PR"}, "RESP-1"), ({"irecist_ibor": "iUPD"}, "PROG-1"),
    ({"iupd_awaiting_confirmation": "true"}, "PROG-1"), ({"worklist": "overdue"}, "PROG-1"),
    ({"status": "done", "pseudoprogression": "false", "patient": "PROG-1"}, "PROG-1"),
])
def test_response_assessments(api, assessed, params, kept):
    path = "/api/v1/analytics/response-assessments/"
    assert _patients(api, path, {}) == {"RESP-1", "PROG-1"}
    assert _patients(api, path, params) == {kept}, params


@pytest.mark.parametrize("params, kept", [
    ({"patient": "PROG-1"}, "PROG-1"), ({"category": "PR"}, "RESP-1"), ({"category": "iUPD"}, "PROG-1"),
    (lambda a: {"assessment": a[0].pk}, "RESP-1"),
])
def test_timepoint_responses(api, assessed, params, kept):
    path = "/api/v1/analytics/timepoint-responses/"
    assert _patients(api, path, {}) == {"RESP-1", "PROG-1"}
    assert _patients(api, path, params(assessed) if callable(params) else params) == {kept}, params


def test_timepoint_responses_by_criteria(api, assessed):
    rows = api.get("/api/v1/analytics/timepoint-responses/", {"criteria": "irecist"}).json()["results"]
    assert rows and {r["criteria"] for r in rows} == {"irecist"}
    assert TimepointResponse.objects.filter(criteria="recist1.1").exists()  # there was a row to leave out


def test_timepoint_response_rows_link_their_assessment(api, assessed, django_assert_max_num_queries):
    responder, _ = assessed
    with django_assert_max_num_queries(5):  # + the role's permissions and the user's sites (accounts.access), once per request
        rows = api.get("/api/v1/analytics/timepoint-responses/", {"patient": "RESP-1", "criteria": "recist1.1"}).json()
    rows = rows["results"]
    assert [r["category"] for r in rows] == [r.category for r in TimepointResponse.objects.filter(
        assessment=responder, criteria="recist1.1").order_by("timepoint__date")]
    assert rows[0]["assessment"].endswith(f"/response-assessments/{responder.pk}/")
    assert api.get(rows[0]["url"]).json()["id"] == rows[0]["id"]


def test_an_unknown_choice_is_refused_not_ignored(api, assessed):
    assert api.get("/api/v1/analytics/response-assessments/", {"tumour_type": "bogus"}).status_code == 400
    assert api.get("/api/v1/analytics/timepoint-responses/", {"criteria": "bogus"}).status_code == 400


def test_the_viewsets_use_the_shared_filtersets():
    from analytics.api import views

    assert views.ResponseAssessmentViewSet.filterset_class is ResponseAssessmentFilterSet
    assert views.TimepointResponseViewSet.filterset_class is TimepointResponseFilterSet


def test_the_schema_is_valid_and_documents_every_filter():
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)
    for path, filterset in [("response-assessments", ResponseAssessmentFilterSet),
                            ("timepoint-responses", TimepointResponseFilterSet)]:
        documented = {p["name"] for p in schema["paths"][f"/api/v1/analytics/{path}/"]["get"]["parameters"]}
        assert set(filterset.base_filters) <= documented, path
