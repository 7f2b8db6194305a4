"""Analytics pages (full page and htmx fragment), the calculator API and command, and the assessments API."""
import datetime as dt
import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from analytics.api.views import EXAMPLE
from imaging.services import measurement_record
from tests.analytics.builders import patient_with_scans

pytestmark = pytest.mark.django_db


@pytest.fixture
def assessed(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        responder, *_ = patient_with_scans([(-5, 100), (56, 60), (112, 55)], study_id="RESP-1")
        progressor, *_ = patient_with_scans([(-5, 100), (56, 140)], study_id="PROG-1")
    return responder, progressor


def test_patient_page_lazy_loads_the_response_panel(client_logged_in, assessed):
    responder, _ = assessed
    page = client_logged_in.get(f"/patients/{responder.pk}/").content.decode()
    assert f'hx-get="/analytics/patients/{responder.pk}/response/"' in page and 'hx-trigger="load"' in page


def test_response_panel_full_page_and_fragment(client_logged_in, htmx_headers, assessed):
    responder, _ = assessed
    url = f"/analytics/patients/{responder.pk}/response/"
    full = client_logged_in.get(url).content.decode()
    fragment = client_logged_in.get(url, **htmx_headers).content.decode()
    assert "<html" in full and "<html" not in fragment
    for text in ("Now:", "iRECIST", "PR", "−40.0 %", "<svg", "explanation", "Next scan:"):
        assert text in fragment, text
    assert 'hx-trigger="every 2s"' not in fragment  # finished: no polling


def test_panel_polls_while_recomputing(client_logged_in, htmx_headers, assessed):
    from analytics.models import ResponseAssessment

    responder, _ = assessed
    ResponseAssessment.objects.filter(patient=responder).update(status="pending")
    fragment = client_logged_in.get(f"/analytics/patients/{responder.pk}/response/", **htmx_headers).content.decode()
    assert 'every 2s"' in fragment and "Recomputing" in fragment


def test_worklist_and_cohort_pages(client_logged_in, htmx_headers, assessed):
    full = client_logged_in.get("/analytics/worklist/")
    fragment = client_logged_in.get("/analytics/worklist/?section=overdue&scope=all", **htmx_headers)
    assert full.status_code == fragment.status_code == 200
    assert b"<html" in full.content and b"<html" not in fragment.content
    assert b"PROG-1" in fragment.content  # an old iUPD never confirmed: overdue
    cohort = client_logged_in.get("/analytics/cohort/").content.decode()
    assert cohort.count("<svg") == 2 and "RESP-1" in cohort  # waterfall + swimmer (lanes are labelled)


def test_evaluate_api(user):
    api = APIClient()
    api.force_authenticate(user)
    response = api.post("/api/v1/analytics/response/evaluate/", EXAMPLE, format="json")
    assert response.status_code == 200
    data = response.json()
    fu = data["timepoints"][-1]
    assert (fu["target_sum_mm"], fu["pct_change_from_baseline"], fu["recist_tpr"]) == (32, -36.0, "PR")
    bad = {"treatment_start": "2024-01-10", "timepoints": [
        {"label": "TP1", "date": "2024-01-05", "kind": "baseline",
         "lesions": [{"id": "T3", "kind": "target", "organ": "lung", "size_mm": 20}]},
        {"label": "TP2", "date": "2024-03-01", "lesions": [{"id": "T3"}]}]}
    response = api.post("/api/v1/analytics/response/evaluate/", bad, format="json")
    assert response.status_code == 400
    assert "timepoint TP2: lesion T3 has neither size_mm nor a measurement status" in response.json()["errors"]
    assert api.post("/api/v1/analytics/response/evaluate/", [1, 2], format="json").status_code == 400
    assert APIClient().post("/api/v1/analytics/response/evaluate/", EXAMPLE, format="json").status_code in (401, 403)


def test_evaluate_command(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(EXAMPLE))
    out = io.StringIO()
    call_command("evaluate_response", str(good), stdout=out)
    assert json.loads(out.getvalue())["recist_bor"]["value"] in ("PR", "SD")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"treatment_start": "nope", "timepoints": []}))
    err = io.StringIO()
    with pytest.raises(CommandError, match="problem"):
        call_command("evaluate_response", str(bad), stdout=io.StringIO(), stderr=err)
    assert "treatment_start" in err.getvalue() or "timepoints" in err.getvalue()
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("evaluate_response", str(broken), stdout=io.StringIO())


def test_assessments_api_with_worklist_filter(user, assessed, django_assert_max_num_queries):
    api = APIClient()
    api.force_authenticate(user)
    with django_assert_max_num_queries(6):  # + the role's permissions and the user's sites (accounts.access), once per request
        data = api.get("/api/v1/analytics/response-assessments/").json()
    assert data["count"] == 2 and {r["patient"] for r in data["results"]} == {"RESP-1", "PROG-1"}
    overdue = api.get("/api/v1/analytics/response-assessments/", {"worklist": "overdue"}).json()
    assert [r["patient"] for r in overdue["results"]] == ["PROG-1"]
    detail = api.get(data["results"][0]["url"]).json()
    assert "timepoints" in detail["result"]


def test_page_and_api_worklists_alert_on_the_same_definitions(user, client_logged_in, settings,
                                                             django_capture_on_commit_callbacks):
    """Every definition is computed and shown; only the alerting ones (settings) raise a worklist row."""
    from analytics.models import ResponseAssessment
    from analytics.services import response_recompute_patients

    recent = dt.date.today() - dt.timedelta(days=70)
    with django_capture_on_commit_callbacks(execute=True):  # T1 shrinks -50 %, T2 grows +40 %: dissociated
        mixed, regimen, lesions, tps = patient_with_scans([(-5, 100), (56, 100)], start=recent, study_id="MIX-1")
        measurement_record(lesion=lesions[0], timepoint=tps[1], size_mm=Decimal(25))
        measurement_record(lesion=lesions[1], timepoint=tps[1], size_mm=Decimal(70))
    assessment = ResponseAssessment.objects.get(patient=mixed)
    assert {"tozuka", "bernard_tessier"} <= set(assessment.dissociated_definitions)
    api = APIClient()
    api.force_authenticate(user)

    def listed():
        page = "MIX-1" in client_logged_in.get("/analytics/worklist/?section=dissociated").content.decode()
        rows = api.get("/api/v1/analytics/response-assessments/", {"worklist": "dissociated"}).json()["results"]
        return page, "MIX-1" in [r["patient"] for r in rows]

    assert listed() == (True, True)
    settings.RADIMMUNO_DISSOCIATED_ALERT_DEFINITIONS = ["zhou"]  # needs a new lesion: not met here
    response_recompute_patients([mixed])
    assert listed() == (False, False)
    settings.RADIMMUNO_DISSOCIATED_ALERT_DEFINITIONS = ["tozuka"]
    response_recompute_patients([mixed])
    assert listed() == (True, True)
