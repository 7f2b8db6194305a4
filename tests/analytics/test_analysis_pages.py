"""The survival-analysis pages: the list and new-analysis form, a run's polled status, its report, re-run."""
import re

import pytest
from django.utils.html import escape

from analytics.models import AnalysisRun
from analytics.services import analysis_run_create
from patients.models import Outcome, Patient
from tests.factories import OutcomeFactory, PatientFactory, RegimenFactory, SiteFactory

pytestmark = pytest.mark.django_db
COX = {"kind": "cox", "endpoint": "os", "covariates": ["pdl1_tps", "sex"]}
KM = {"kind": "km", "endpoint": "os", "group_by": "pdl1_tps", "cut": [50]}
URL = "/analytics/analyses/"


def _done(spec, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = analysis_run_create(spec=spec)
    run.refresh_from_db()
    assert run.status == "done", run.error
    return run


def _text(response):
    return response.content.decode()


def test_the_pages_need_a_login(client, cohort, django_capture_on_commit_callbacks):
    run = _done(KM, django_capture_on_commit_callbacks)
    for url in (URL, f"{URL}{run.pk}/"):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client.post(f"{URL}{run.pk}/rerun/").status_code == 302
    assert AnalysisRun.objects.count() == 1


def test_the_form_creates_a_run_and_goes_to_its_report(cohort, client_logged_in, user,
                                                       django_capture_on_commit_callbacks):
    page = client_logged_in.get(URL)
    assert page.status_code == 200
    text = _text(page)
    assert 'name="covariates"' in text and '<option value="pdl1_tps">' in text and "No analyses yet" in text
    assert 'href="/analytics/analyses/"' in text  # the nav link
    with django_capture_on_commit_callbacks(execute=True):
        response = client_logged_in.post(URL, {
            "site": ["A"], "tumour_type": [], "kind": "cox", "endpoint": "os", "covariates": ["pdl1_tps", "sex"],
            "times": "182, 365", "landmark_weeks": "12", "irae": "any", "min_grade": "2"})
    run = AnalysisRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"{URL}{run.pk}/"
    assert run.spec["cohort"] == {"site": ["A"]} and run.spec["covariates"] == ["pdl1_tps", "sex"]
    assert run.spec["times"] == [182, 365] and run.spec["irae"] is None and run.created_by == user
    assert run.status == "done" and run.result["n"] == 40
    report = _text(client_logged_in.get(response["Location"]))
    assert 'id="cox-terms"' in report and "pdl1_tps" in report and "sex[M]" in report


def test_a_km_spec_from_the_form_groups_and_cuts(cohort, client_logged_in, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_logged_in.post(URL, {"kind": "km", "endpoint": "os", "group_by": "pdl1_tps",
                                               "cut": "1, 50", "landmark_weeks": "12"})
    assert response.status_code == 302
    run = AnalysisRun.objects.get()
    assert (run.spec["group_by"], run.spec["cut"], run.spec["cohort"]) == ("pdl1_tps", [1, 50], {})
    assert run.spec["landmark_weeks"] == 12  # the default: the form sends it only for landmark analyses
    assert [g["group"] for g in run.result["groups"]] == ["pdl1_tps <1", "pdl1_tps 1–<50", "pdl1_tps ≥50"]
    text = _text(client_logged_in.get(response["Location"]))
    assert text.count("<tr><td>pdl1_tps ") == 3 and "Log-rank (multivariate)" in text


@pytest.mark.parametrize("data, spec", [
    ({"kind": "cox_tv", "endpoint": "ttf", "covariates": ["ecog_baseline"], "irae": "pneumonitis", "min_grade": "3",
      "landmark_weeks": "8", "tumour_type": ["nsclc", "melanoma"]},
     {"kind": "cox_tv", "endpoint": "ttf", "covariates": ["ecog_baseline"], "landmark_weeks": 12,
      "irae": {"irae": "pneumonitis", "min_grade": 3}, "cohort": {"tumour_type": ["nsclc", "melanoma"]}}),
    ({"kind": "landmark", "endpoint": "pfs_recist", "group_by": "recist_bor", "landmark_weeks": "8",
      "irae": "colitis"},
     {"kind": "landmark", "endpoint": "pfs_recist", "group_by": "recist_bor", "landmark_weeks": 8, "irae": None,
      "method": "km", "cut": None}),
])
def test_the_form_sends_only_what_its_kind_uses(cohort, client_logged_in, data, spec):
    response = client_logged_in.post(URL, data)  # no commit here: the run is stored, pending
    assert response.status_code == 302, _text(response)[:2000]
    stored = AnalysisRun.objects.get().spec
    assert {key: stored[key] for key in spec} == spec


def test_time_zero_reference_and_radiomic_covariates_reach_the_spec(cohort, client_logged_in):
    response = client_logged_in.post(URL, {
        "kind": "cox", "endpoint": "os", "covariates": ["sex", "tumour_type"], "time_zero": "class:anti_pd1",
        "reference": "sex=M; tumour_type=nsclc",
        "radiomic_covariates": " radiomics:ct-default:original_shape_VoxelVolume \n\n"})
    # no feature set exists in this cohort: the radiomic name is refused, on its own field, and nothing is stored
    assert response.status_code == 200 and not AnalysisRun.objects.exists()
    assert 'data-field="radiomic_covariates"' in _text(response)
    response = client_logged_in.post(URL, {"kind": "cox", "endpoint": "os", "covariates": ["sex", "tumour_type"],
                                           "time_zero": "line:1", "reference": "sex=M; tumour_type=nsclc"})
    assert response.status_code == 302, _text(response)[:2000]
    spec = AnalysisRun.objects.get().spec
    assert spec["time_zero"] == {"line_of_therapy": 1} and spec["reference"] == {"sex": "M", "tumour_type": "nsclc"}
    page = _text(client_logged_in.get(URL))
    assert '<option value="class:anti_pd1">' in page and 'name="radiomic_covariates"' in page


@pytest.mark.parametrize("data, field, words", [
    # the service's ValidationError, shown on the field it names
    ({"kind": "cox", "endpoint": "os", "group_by": "dcb"}, "group_by", "immortal"),
    ({"kind": "cox", "endpoint": "os"}, "covariates", "at least one covariate"),
    ({"kind": "km", "endpoint": "os", "cut": "1, 50"}, "cut", "group_by"),
    ({"kind": "landmark", "endpoint": "os", "landmark_weeks": "12"}, "group_by", "response group"),
    ({"kind": "cox", "endpoint": "os", "radiomic_covariates": "radiomics:no-such-profile:original_shape_VoxelVolume"},
     "radiomic_covariates", "no radiomics extraction profile"),
    # the form's own parsing
    ({"kind": "cox", "endpoint": "os", "covariates": ["sex"], "reference": "sex"}, "reference", "covariate=level"),
    ({"kind": "km", "endpoint": "os", "group_by": "pdl1_tps", "cut": "1, fifty"}, "cut", "not a number"),
    ({"kind": "km", "endpoint": "efs"}, "endpoint", "valid choice"),
])
def test_a_bad_form_shows_the_error_on_its_field(cohort, client_logged_in, data, field, words):
    response = client_logged_in.post(URL, data)
    assert response.status_code == 200
    errors = re.findall(rf'<p class="error" data-field="{field}">(.*?)</p>', _text(response), re.S)
    assert errors and words in " ".join(errors).lower().replace("&#x27;", "'"), _text(response)[:3000]
    assert not AnalysisRun.objects.exists()


def test_the_km_report_shows_the_figure_and_tables(cohort, client_logged_in, django_capture_on_commit_callbacks):
    run = _done(KM, django_capture_on_commit_callbacks)
    response = client_logged_in.get(f"{URL}{run.pk}/")
    assert response.status_code == 200
    text = _text(response)
    assert "<svg" in text and 'id="km-groups"' in text and 'id="logrank"' in text
    assert "hx-trigger" not in text  # finished: no polling
    group = run.result["groups"][0]
    row = re.search(r'<table class="data" id="km-groups">.*?</table>', text, re.S).group(0)
    assert escape(group["group"]) in row and f"<td>{group['n']}</td>" in row and "S(365 d)" in row
    assert run.input_sha256 in text and run.result["versions"]["lifelines"] in text
    assert escape('"group_by": "pdl1_tps"') in text  # the spec, pretty JSON
    assert 'id="exclusions"' in text and 'id="cox-terms"' not in text
    study_ids = list(Patient.objects.values_list("study_id", flat=True))
    assert len(study_ids) == 40 and not [s for s in study_ids if s in text]  # no patient identifiers in the page


def test_the_cox_report_shows_terms_concordance_and_ph_check(cohort, client_logged_in,
                                                            django_capture_on_commit_callbacks):
    run = _done(COX, django_capture_on_commit_callbacks)
    text = _text(client_logged_in.get(f"{URL}{run.pk}/"))
    terms = re.search(r'<table class="data" id="cox-terms">.*?</table>', text, re.S).group(0)
    pdl1 = next(t for t in run.result["terms"] if t["term"] == "pdl1_tps")
    assert f"<td>pdl1_tps</td><td>{pdl1['hr']:.3g}</td>" in terms and f"{pdl1['hr_lower']:.3g}–" in terms
    assert f"Concordance (C-index): {run.result['concordance']:.3g}" in text
    assert 'id="ph-test"' in text and "<svg" in text and "Reference levels: sex = F" in text


def test_a_violated_ph_check_is_flagged(cohort, client_logged_in, django_capture_on_commit_callbacks):
    run = _done(COX, django_capture_on_commit_callbacks)
    result = dict(run.result)
    result["ph_test"] = [{**row, "p": 0.001, "violated": row["term"] == "sex[M]"} for row in result["ph_test"]]
    AnalysisRun.objects.filter(pk=run.pk).update(result=result)
    text = _text(client_logged_in.get(f"{URL}{run.pk}/"))
    assert 'id="ph-violated"' in text and '<span class="flag bad">violated</span>' in text
    AnalysisRun.objects.filter(pk=run.pk).update(result=run.result)
    assert 'id="ph-violated"' not in _text(client_logged_in.get(f"{URL}{run.pk}/"))


def test_a_pending_run_polls_with_its_status_fragment(cohort, client_logged_in, htmx_headers):
    run = analysis_run_create(spec=KM)  # no commit in this test: the task is never sent, the run stays pending
    assert run.status == "pending"
    full = _text(client_logged_in.get(f"{URL}{run.pk}/"))
    assert "<html" in full and 'hx-trigger="every 2s"' in full and "Pending" in full
    fragment = _text(client_logged_in.get(f"{URL}{run.pk}/", **htmx_headers))
    assert "<html" not in fragment and fragment.lstrip().startswith('<div id="analysis-run"')
    assert 'hx-trigger="every 2s"' in fragment and f'hx-get="{URL}{run.pk}/"' in fragment
    assert "Re-run" not in fragment and 'id="km-groups"' not in fragment


def test_the_poll_stops_and_shows_the_report_once_done(cohort, client_logged_in, htmx_headers,
                                                       django_capture_on_commit_callbacks):
    run = _done(KM, django_capture_on_commit_callbacks)
    fragment = _text(client_logged_in.get(f"{URL}{run.pk}/", **htmx_headers))
    assert "<html" not in fragment and "hx-trigger" not in fragment and 'id="km-groups"' in fragment


def test_a_failed_run_shows_its_error_and_spec(cohort, client_logged_in, django_capture_on_commit_callbacks):
    alive = SiteFactory(code="B")
    for _ in range(5):
        patient = PatientFactory(site=alive)
        RegimenFactory(patient=patient)
        OutcomeFactory(patient=patient)
    with django_capture_on_commit_callbacks(execute=True):
        run = analysis_run_create(spec={"kind": "km", "endpoint": "os", "cohort": {"site": "B"}})
    run.refresh_from_db()
    assert run.status == "failed"
    text = _text(client_logged_in.get(f"{URL}{run.pk}/"))
    error = re.search(r'<p class="error" id="analysis-error">(.*?)</p>', text, re.S).group(1)
    assert "event" in error and "Traceback" not in text and escape('"site": "B"') in text
    assert "hx-trigger" not in text and 'id="km-groups"' not in text and "Re-run" in text


def test_rerun_creates_a_linked_run(cohort, client_logged_in, user, django_capture_on_commit_callbacks):
    run = _done(COX, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_logged_in.post(f"{URL}{run.pk}/rerun/")
    new = AnalysisRun.objects.get(rerun_of=run)
    assert response.status_code == 302 and response["Location"] == f"{URL}{new.pk}/"
    assert new.created_by == user and new.status == "done" and new.result["terms"] == run.result["terms"]
    text = _text(client_logged_in.get(response["Location"]))
    assert f'href="{URL}{run.pk}/">#{run.pk}</a>' in text  # links back to the original
    assert client_logged_in.get(f"{URL}{run.pk}/rerun/").status_code == 405
    assert client_logged_in.post(f"{URL}999999/rerun/").status_code == 404


def test_the_page_says_when_the_data_changed(cohort, client_logged_in, django_capture_on_commit_callbacks):
    run = _done({"kind": "km", "endpoint": "os"}, django_capture_on_commit_callbacks)
    text = _text(client_logged_in.get(f"{URL}{run.pk}/"))
    assert 'id="data-changed"' not in text and 'id="data-unchanged"' in text
    outcome = Outcome.objects.filter(vital_status="alive").first()
    Outcome.objects.filter(pk=outcome.pk).update(vital_status="dead", death_date=outcome.last_contact_date)
    text = _text(client_logged_in.get(f"{URL}{run.pk}/"))
    notice = re.search(r'<section class="card error" id="data-changed">(.*?)</section>', text, re.S).group(1)
    assert "changed" in notice and "re-run" in notice.lower()


def test_an_unknown_run_is_404(client_logged_in):
    assert client_logged_in.get(f"{URL}999999/").status_code == 404


def test_the_list_has_a_fixed_number_of_queries(cohort, client_logged_in, user, django_capture_on_commit_callbacks,
                                                django_assert_num_queries):
    def runs_listed():
        text = _text(client_logged_in.get(URL))
        return len(re.findall(r'<a href="/analytics/analyses/\d+/">#', text)), text

    _done(COX, django_capture_on_commit_callbacks)
    # session, user, the biomarker vocabulary (covariates), the nav's two permission queries, sites (for each of
    # the two forms), the profile names (the model form), count, and one query for the runs with their authors
    # (select_related), however many runs there are
    with django_assert_num_queries(11):
        count, _ = runs_listed()
    assert count == 1
    for spec in (KM, COX, KM):
        with django_capture_on_commit_callbacks(execute=True):
            analysis_run_create(spec=spec, user=user)
    with django_assert_num_queries(11):
        count, text = runs_listed()
    assert count == 4 and "clinician" in text and "done" in text.lower()
