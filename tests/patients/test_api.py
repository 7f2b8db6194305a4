"""The REST API shell: authentication, filters, detail, schema and docs, and no identifying data."""
import pytest
from rest_framework.test import APIClient

from tests.factories import IdentityFactory, PatientFactory, RegimenFactory
from tests.patients.test_views import full_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_anonymous_is_refused():
    assert APIClient().get("/api/v1/patients/patients/").status_code in (401, 403)


def test_token_authentication(user):
    client = APIClient()
    response = client.post("/api/v1/auth/token/", {"username": "clinician", "password": "pw-for-tests",
                                                   "name": "tests"})
    assert response.status_code == 201
    token = response.json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/patients/patients/").status_code == 200


def test_session_authentication(client_logged_in):
    assert client_logged_in.get("/api/v1/patients/patients/").status_code == 200


def test_list_filters_and_fields(api):
    full_patient("API-MEL", "melanoma", ["nivolumab", "ipilimumab"])
    full_patient("API-LUNG", "nsclc", ["pembrolizumab"])
    data = api.get("/api/v1/patients/patients/", {"drug_class": "anti_ctla4"}).json()
    assert data["count"] == 1
    row = data["results"][0]
    assert row["study_id"] == "API-MEL" and row["tumour_type"] == "melanoma"
    assert row["url"].endswith(f"/api/v1/patients/patients/{row['id']}/")
    assert [a["name"] for a in row["regimens"][0]["agents"]] == ["ipilimumab", "nivolumab"]
    assert api.get("/api/v1/patients/patients/", {"q": "lung"}).json()["count"] == 1
    assert api.get("/api/v1/patients/patients/", {"tumour_type": "nope"}).status_code == 400


def test_detail_has_clinical_data_but_no_identity(api):
    patient = full_patient("API-DETAIL")
    IdentityFactory(patient=patient, family_name="Qwertyuiop", mrn="MRN-API-SECRET")
    data = api.get(f"/api/v1/patients/patients/{patient.pk}/").json()
    assert data["biomarkers"][0]["kind"] == "pdl1_tps" and data["adverse_events"][0]["term"] == "colitis"
    assert data["outcome"]["vital_status"] == "alive"
    text = str(data)
    assert "Qwertyuiop" not in text and "MRN-API-SECRET" not in text and "identity" not in text


def test_list_query_count_is_pinned(api, django_assert_max_num_queries):
    for i in range(25):
        RegimenFactory(patient=PatientFactory(study_id=f"N-{i}"), agents=["nivolumab", "ipilimumab"])
    with django_assert_max_num_queries(8):  # + the role's permissions and the user's sites (accounts.access), once per request
        assert api.get("/api/v1/patients/patients/").status_code == 200


def test_detail_query_count_is_pinned(api, django_assert_max_num_queries):
    patient = full_patient("DQ")
    with django_assert_max_num_queries(9):
        assert api.get(f"/api/v1/patients/patients/{patient.pk}/").status_code == 200


def test_schema_and_docs_served_locally(client_logged_in):
    schema = client_logged_in.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    assert "/api/v1/patients/patients/" in schema.json()["paths"]
    docs = client_logged_in.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs.lower()
    assert "cdn" not in docs.lower() and "unpkg" not in docs.lower() and "/static/drf_spectacular_sidecar/" in docs
