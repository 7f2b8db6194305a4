"""The response panel the patient page loads: the engine's stored results, in a fixed number of queries."""
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.analytics.builders import patient_with_scans

pytestmark = pytest.mark.django_db


def queries(client, url, **headers):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, **headers).status_code == 200
    return len(ctx.captured_queries)


def test_panel_query_count_does_not_grow_with_the_patient(client_logged_in, htmx_headers,
                                                           django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        small, *_ = patient_with_scans([(-5, 100), (56, 60)], study_id="SMALL")
        big, *_ = patient_with_scans([(-5, 100), *[(56 * k, 100 - 5 * k) for k in range(1, 9)]], study_id="BIG",
                                     organs=("lung", "liver", "adrenal", "kidney", "bone"))
    n = queries(client_logged_in, f"/analytics/patients/{small.pk}/response/", **htmx_headers)
    assert queries(client_logged_in, f"/analytics/patients/{big.pk}/response/", **htmx_headers) == n
    assert n <= 10  # + the role's permissions and the user's sites (accounts.access), once per request


def test_panel_shows_the_stored_target_sums_in_mm(client_logged_in, htmx_headers,
                                                  django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        patient, *_ = patient_with_scans([(-5, 100), (56, 60.5)])
    fragment = client_logged_in.get(f"/analytics/patients/{patient.pk}/response/", **htmx_headers).content.decode()
    assert '"nowrap">100 mm</td>' in fragment and '"nowrap">60.5 mm</td>' in fragment  # nadir before, target sum
    assert '"nowrap">−39.5 %</td>' in fragment  # one decimal, a real minus sign
    baseline = fragment[fragment.index('<tr class="baseline">'):]
    baseline = baseline[:baseline.index("</tr>")]
    assert "Baseline" in baseline and "<td>100 mm</td>" in baseline and "T1, T2" in baseline


def test_the_baseline_sum_is_the_stored_documents(client_logged_in, htmx_headers,
                                                  django_capture_on_commit_callbacks):
    from analytics.models import ResponseAssessment

    with django_capture_on_commit_callbacks(execute=True):
        patient, *_ = patient_with_scans([(-5, 100), (56, 60)])
    assessment = ResponseAssessment.objects.get(patient=patient)
    assessment.result["baseline"]["target_sum_mm"] = 101.5
    ResponseAssessment.objects.filter(pk=assessment.pk).update(result=assessment.result)
    fragment = client_logged_in.get(f"/analytics/patients/{patient.pk}/response/", **htmx_headers).content.decode()
    assert "<td>101.5 mm</td>" in fragment


def test_unknown_patient_is_a_404(client_logged_in, htmx_headers):
    assert client_logged_in.get("/analytics/patients/999999/response/", **htmx_headers).status_code == 404
