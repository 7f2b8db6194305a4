"""Classification runs from the database: the target and feature table, a stored run with its model, the spec
errors a researcher gets, and the planted signal found with the permuted control near 0.5."""
import datetime as dt
import io
import json
from decimal import Decimal

import numpy as np
import pytest
from django.core.management import call_command

from analytics.compute.prediction import load_model, score_patients
from analytics.models import AnalysisRun
from analytics.selectors.prediction import prediction_table
from analytics.services import analysis_run_create, analysis_run_now
from imaging.models import ExternalFeatureSet, ExtractionProfile
from patients.models import Patient
from tests.factories import (
    BiomarkerFactory,
    LesionFactory,
    OutcomeFactory,
    PatientFactory,
    RegimenFactory,
    SiteFactory,
    TimepointFactory,
)

pytestmark = pytest.mark.django_db
FAST = {"cv": {"outer_folds": 3, "inner_folds": 3, "repeats": 1}, "permutations": 3, "bootstrap": 200}
SPEC = {"kind": "classification", "target": {"biomarker": "pdl1_tps", "threshold": 50},
        "features": {"radiomics": {"profile": "lifex", "timepoint": "baseline", "aggregate": "largest",
                                   "include": ["original_*"]}, "clinical": ["age_at_start"]},
        **FAST}


@pytest.fixture
def cohort():
    """80 patients: baseline features of two target lesions (the larger one carries the signal), PD-L1 TPS >= 50
    where the signal feature is high; one patient without a PD-L1 result, one without features."""
    rng = np.random.default_rng(3)
    site = SiteFactory(code="A")
    profile = ExtractionProfile.objects.create(name="lifex", version=1, source="external", active=False,
                                               modality="", params={"description": "LIFEx"}, params_hash="lifex")
    for i in range(82):
        patient = PatientFactory(site=site, study_id=f"P-{i:03d}", year_of_birth=1940 + i % 30)
        RegimenFactory(patient=patient, start_date=dt.date(2023, 2, 1))
        OutcomeFactory(patient=patient)
        signal = rng.normal()
        if i != 80:
            BiomarkerFactory(patient=patient, value_numeric=Decimal("80" if signal + 0.5 * rng.normal() > 0 else "5"),
                             measured_on=dt.date(2023, 1, 20))
        baseline = TimepointFactory(patient=patient, date=dt.date(2023, 1, 25), kind="baseline")
        if i == 81:
            continue
        for label, volume, carries in (("T1", 5000.0, True), ("T2", 800.0, False)):
            lesion = LesionFactory(patient=patient, label=label)
            features = {f"original_glcm_Noise{k:02d}": float(rng.normal()) for k in range(40)}
            features["original_firstorder_Signal"] = float(signal if carries else rng.normal())
            features["original_shape_VoxelVolume"] = volume
            ExternalFeatureSet.objects.create(lesion=lesion, timepoint=baseline, profile=profile, features=features,
                                              feature_count=len(features))
    return profile


def test_the_table_has_one_row_per_patient_with_the_largest_target_lesion_and_counted_exclusions(cohort):
    X, y, excluded, profile_pk = prediction_table(spec=SPEC)
    assert profile_pk == cohort.pk and len(X) == len(y) == 80
    assert excluded == {"no pdl1_tps measured on or before time zero": 1,
                        "no radiomic features at the baseline (or no stored delta)": 1}
    assert "age_at_start" in X.columns and "original_firstorder_Signal" in X.columns and X.shape[1] == 43
    first = ExternalFeatureSet.objects.get(lesion__patient__study_id="P-000", lesion__label="T1")
    pk = first.lesion.patient_id
    assert X.loc[pk, "original_firstorder_Signal"] == first.features["original_firstorder_Signal"]  # largest: T1
    assert X.loc[pk, "age_at_start"] == 2023 - 1940 and set(y.unique()) == {0, 1}


def test_a_stored_classification_run_finds_the_planted_signal_and_keeps_its_model(cohort):
    run = analysis_run_now(spec=SPEC)
    assert run.status == "done", run.error
    result = run.result
    _, y, _, _ = prediction_table(spec=SPEC)
    assert result["kind"] == "classification" and result["n"] == 80 and result["positives"] == int(y.sum())
    assert result["auc_lower"] > 0.5 and result["auc"] > 0.75, result["auc"]
    assert abs(result["permuted_auc"] - 0.5) < 0.2 and result["leak_warning"] is None
    assert "original_firstorder_Signal" in result["selected_features"]
    assert result["excluded"]["no pdl1_tps measured on or before time zero"] == 1
    for key in ("brier", "calibration_slope", "calibration_intercept", "auc_upper"):
        assert key in result
    assert set(run.figures) >= {"roc", "calibration"} and run.figures["roc"].startswith("<svg")
    assert run.model_sha256 == result["model_sha256"] and len(run.patient_ids) == 80
    # the stored model re-scores after a reload from the database, identically
    X, _, _, _ = prediction_table(spec=run.spec)
    stored = AnalysisRun.objects.get(pk=run.pk)
    model = load_model(bytes(stored.model), sha256=stored.model_sha256)
    again = load_model(bytes(AnalysisRun.objects.get(pk=run.pk).model), sha256=stored.model_sha256)
    assert np.array_equal(score_patients(model, X), score_patients(again, X))
    assert run.endpoint == "pdl1_tps"


@pytest.mark.parametrize("change, field, words", [
    ({"target": {"biomarker": "shoe_size", "threshold": 1}}, "target", "unknown biomarker"),
    ({"target": {"biomarker": "pdl1_tps"}}, "target", "threshold"),
    ({"target": {"response": "cure"}}, "target", "response must be one of"),
    ({"features": {}}, "features", "name the features"),
    ({"features": {"radiomics": {"profile": "nope"}}}, "features.radiomics", "no extraction profile"),
    ({"features": {"clinical": ["hat_size"]}}, "features.clinical", "unknown clinical covariate"),
    ({"model": "deep_net"}, "model", "must be one of"),
    ({"colour": "blue"}, "colour", "unknown key"),
])
def test_spec_errors_name_their_field_and_store_nothing(cohort, change, field, words):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        analysis_run_create(spec={**SPEC, **change})
    assert field in caught.value.message_dict and words in " ".join(caught.value.message_dict[field])
    assert not AnalysisRun.objects.exists()


def test_run_analysis_prints_the_classification_summary(cohort, tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({**SPEC, "target": {"response": "objective"}}))
    out = io.StringIO()
    with pytest.raises(Exception) as caught:  # no response assessments in this cohort: a readable failure
        call_command("run_analysis", str(spec), stdout=out)
    assert str(caught.value).startswith("Analysis") and "failed" in str(caught.value), str(caught.value)
    spec.write_text(json.dumps(SPEC))
    call_command("run_analysis", str(spec), "--output", str(tmp_path / "r.json"), stdout=out)
    text = out.getvalue()
    assert "classification (l1_logistic) of pdl1_tps" in text and "AUC" in text and "permuted-label" in text
    assert json.loads((tmp_path / "r.json").read_text())["kind"] == "classification"


def test_the_api_scores_patients_with_the_stored_model_and_refuses_another_profile_version(cohort,
                                                                                           client_logged_in):
    run = analysis_run_now(spec=SPEC)
    url = f"/api/v1/analytics/models/{run.pk}/score/"
    first = client_logged_in.post(url, {"patients": ["P-000", "P-001", "P-081"]}, content_type="application/json")
    assert first.status_code == 200, first.content
    body = first.json()
    assert [s["patient"] for s in body["scores"]] == ["P-000", "P-001"]
    assert body["refused"][0]["patient"] == "P-081" and "lifex v1" in body["refused"][0]["reason"]
    assert "not a diagnosis" in body["note"] and body["auc"] == run.result["auc"]
    again = client_logged_in.post(url, {"patients": ["P-000", "P-001"]}, content_type="application/json").json()
    assert again["scores"] == body["scores"]  # identical probabilities from the stored model
    # features re-extracted with a new version of the profile: refused, never mixed
    v2 = ExtractionProfile.objects.create(name="lifex", version=2, source="external", active=False, modality="",
                                          params={"description": "LIFEx 8"}, params_hash="lifex2")
    ExternalFeatureSet.objects.filter(lesion__patient__study_id="P-001").update(profile=v2)
    mixed = client_logged_in.post(url, {"patients": ["P-000", "P-001"]}, content_type="application/json").json()
    assert [s["patient"] for s in mixed["scores"]] == ["P-000"]
    assert mixed["refused"] == [{"patient": "P-001", "reason": mixed["refused"][0]["reason"]}]
    assert "the version the model was fitted on" in mixed["refused"][0]["reason"]
    assert client_logged_in.post(url, {"patients": ["NOPE"]}, content_type="application/json").status_code == 400
    assert client_logged_in.post("/api/v1/analytics/models/999999/score/", {"patients": ["P-000"]},
                                 content_type="application/json").status_code == 404


def test_the_run_page_shows_the_classification_report(cohort, client_logged_in, htmx_headers):
    run = analysis_run_now(spec=SPEC)
    page = client_logged_in.get(f"/analytics/analyses/{run.pk}/")
    text = page.content.decode()
    assert page.status_code == 200 and 'id="classification-report"' in text
    assert f"{run.result['auc']:.3g}" in text and 'id="roc-plot"' in text and 'id="calibration-plot"' in text
    assert "Permuted-label control" in text and 'id="tripod"' in text and "pdl1_tps ≥ 50" in text
    assert "no pdl1_tps measured on or before time zero" in text and "not a diagnostic test" in text
    if run.result["rad_score"]:
        assert 'id="rad-score-formula"' in text and "logit(p)" in text
    fragment = client_logged_in.get(f"/analytics/analyses/{run.pk}/", **htmx_headers)
    assert fragment.status_code == 200 and "<html" not in fragment.content.decode()
    listing = client_logged_in.get("/analytics/analyses/").content.decode()
    assert "classification" in listing and "pdl1_tps" in listing


def test_a_running_classification_shows_its_progress(cohort, client_logged_in):
    run = analysis_run_create(spec=SPEC)  # pending: the on-commit task never ran in this test transaction
    AnalysisRun.objects.filter(pk=run.pk).update(status="running", progress={"done": 4, "total": 15,
                                                                             "message": "repeat 1, fold 4"})
    text = client_logged_in.get(f"/analytics/analyses/{run.pk}/").content.decode()
    assert 'id="analysis-progress"' in text and "4 of 15: repeat 1, fold 4" in text and 'hx-trigger="every 2s"' in text


def test_a_rerun_on_unchanged_data_gives_the_same_numbers_and_model(cohort):
    from analytics.services import analysis_run_rerun
    from radimmuno.jobs import run_job
    from analytics.services import analysis_run_execute

    first = analysis_run_now(spec=SPEC)
    second = analysis_run_rerun(first)
    run_job(AnalysisRun, second.pk, analysis_run_execute)
    second.refresh_from_db()
    assert second.status == "done" and second.rerun_of_id == first.pk
    for key in ("auc", "auc_lower", "auc_upper", "permuted_aucs", "brier", "selected_features", "input_sha256"):
        assert second.result[key] == first.result[key], key
    assert second.model_sha256 == first.model_sha256 and bytes(second.model) == bytes(first.model)


def test_a_stored_model_is_a_survival_covariate(cohort, client_logged_in):
    from analytics.compute.survival import SpecError
    from analytics.selectors import survival_records

    run = analysis_run_now(spec=SPEC)
    name = f"model:{run.pk}"
    records = {r.patient_id: r for r in survival_records(spec={"kind": "cox", "endpoint": "os", "covariates": [name]})}
    scored = client_logged_in.post(f"/api/v1/analytics/models/{run.pk}/score/", {"patients": ["P-000", "P-081"]},
                                   content_type="application/json").json()
    by_study = {r.patient_id: r for r in records.values()}
    p000 = next(pk for pk in by_study if ExternalFeatureSet.objects.filter(lesion__patient_id=pk,
                                                                           lesion__patient__study_id="P-000").exists())
    assert records[p000].covariates[name] == pytest.approx(scored["scores"][0]["probability"], abs=0)
    p081 = next(r.patient_id for r in records.values()
                if not ExternalFeatureSet.objects.filter(lesion__patient_id=r.patient_id).exists())
    assert records[p081].covariates[name] is None  # no features of the model's profile version: missing
    with pytest.raises(SpecError, match="no finished classification run #999"):
        survival_records(spec={"kind": "cox", "endpoint": "os", "covariates": ["model:999"]})


def test_the_patient_page_panel_shows_the_models_score_or_why_not(cohort, client_logged_in, htmx_headers):
    empty = client_logged_in.get(f"/analytics/patients/{PatientFactory().pk}/models/", **htmx_headers)
    assert empty.status_code == 200 and "No prediction model has been fitted yet" in empty.content.decode()
    run = analysis_run_now(spec=SPEC)
    from patients.models import Patient

    scored = Patient.objects.get(study_id="P-000")
    text = client_logged_in.get(f"/analytics/patients/{scored.pk}/models/", **htmx_headers).content.decode()
    probability = client_logged_in.post(f"/api/v1/analytics/models/{run.pk}/score/", {"patients": ["P-000"]},
                                        content_type="application/json").json()["scores"][0]["probability"]
    assert f"<strong>{probability:.2f}</strong> probability" in text and "Not a diagnosis" in text
    assert f"#{run.pk}" in text and "pdl1_tps ≥ 50" in text
    unscored = Patient.objects.get(study_id="P-081")
    text = client_logged_in.get(f"/analytics/patients/{unscored.pk}/models/").content.decode()
    assert "not scored: no baseline features of profile lifex v1" in text and "<html" in text


def test_robust_only_drops_the_non_robust_features_inside_the_pipeline(cohort):
    from django.core.exceptions import ValidationError

    from analytics.models import FeatureRobustness

    robust_spec = {**SPEC, "features": {**SPEC["features"], "radiomics": {**SPEC["features"]["radiomics"],
                                                                          "robust_only": True}}}
    with pytest.raises(ValidationError, match="feature_robustness --profile lifex"):
        analysis_run_create(spec=robust_spec)  # never computed: the spec says which command computes it
    noise = {f"original_glcm_Noise{k:02d}": {"icc": 0.2, "robust": False} for k in range(40)}
    FeatureRobustness.objects.create(profile=cohort, status="done", threshold=0.75, features={
        **noise, "original_firstorder_Signal": {"icc": 0.95, "robust": True},
        "original_shape_VoxelVolume": {"icc": 0.99, "robust": True}})
    run = analysis_run_now(spec=robust_spec)
    assert run.status == "done", run.error
    assert set(run.result["excluded_features"]) == set(noise) and run.result["n_features_used"] == 3
    assert run.spec["features"]["radiomics"]["robust_only"] is True


def test_exclude_flagged_leaves_out_delta_pairs_with_acquisition_differences(cohort):
    from analytics.services import delta_refresh_patients
    from imaging.models import Lesion

    follow_up = {}
    for lesion in Lesion.objects.filter(patient__study_id__in=[f"P-{i:03d}" for i in range(5)]):
        tp = follow_up.get(lesion.patient_id) or TimepointFactory(patient=lesion.patient, date=dt.date(2023, 4, 5),
                                                                  kind="follow-up")
        follow_up[lesion.patient_id] = tp
        base = ExternalFeatureSet.objects.get(lesion=lesion)
        ExternalFeatureSet.objects.create(lesion=lesion, timepoint=tp, profile=cohort, features={
            k: v * 1.1 for k, v in base.features.items()}, feature_count=base.feature_count)
    delta_refresh_patients(list(follow_up))
    delta = {**SPEC, "features": {"radiomics": {"profile": "lifex", "aggregate": "mean", "exclude_flagged": True,
                                                "timepoint": {"delta": ["baseline", "first_follow_up"]}}}}
    X, y, excluded, _ = prediction_table(spec=delta)
    # imported features have no stored series: every pair is flagged acquisition_unknown, so all five are left out
    assert excluded["delta pair with acquisition differences (exclude_flagged)"] == 5 and len(X) == 0
    X, y, excluded, _ = prediction_table(spec={**delta, "features": {"radiomics": {
        **delta["features"]["radiomics"], "exclude_flagged": False}}})
    assert len(X) == 5 and all(c.startswith("delta_rel:") for c in X.columns)
    from analytics.compute.survival import SpecError

    with pytest.raises(SpecError, match="exclude_flagged applies to delta features"):
        prediction_table(spec={**SPEC, "features": {"radiomics": {"profile": "lifex", "exclude_flagged": True}}})


def test_the_analyses_page_starts_a_prediction_model_from_its_form(cohort, client_logged_in):
    form = {"form": "classification", "model-target_kind": "biomarker", "model-biomarker": "pdl1_tps",
            "model-threshold": "50", "model-profile": "lifex", "model-radiomics_timepoint": "baseline",
            "model-aggregate": "largest", "model-include": "original_*", "model-clinical": ["age_at_start"],
            "model-model": "l1_logistic", "model-selection": "univariate", "model-k": "20", "model-seed": "0",
            "model-time_zero": "first_ici"}
    response = client_logged_in.post("/analytics/analyses/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    run = AnalysisRun.objects.latest("pk")
    assert response["Location"] == f"/analytics/analyses/{run.pk}/"
    assert run.kind == "classification" and run.spec["target"] == {"biomarker": "pdl1_tps", "threshold": 50}
    assert run.spec["features"] == {"radiomics": {"profile": "lifex", "aggregate": "largest",
                                                  "include": ["original_*"], "timepoint": "baseline"},
                                    "clinical": ["age_at_start"]}
    assert run.spec["selection"] == {"method": "univariate", "k": 20} and run.spec["harmonise"] is None
    # mistakes come back on the field, nothing stored
    count = AnalysisRun.objects.count()
    no_threshold = client_logged_in.post("/analytics/analyses/", {**form, "model-threshold": ""})
    text = no_threshold.content.decode()
    assert no_threshold.status_code == 200 and 'data-field="threshold"' in text and "positive categories" in text
    harmonised = client_logged_in.post("/analytics/analyses/", {**form, "model-harmonise": "site"})
    assert harmonised.status_code == 302
    assert AnalysisRun.objects.latest("pk").spec["harmonise"]["batch"] == "site"
    nothing = client_logged_in.post("/analytics/analyses/", {**form, "model-profile": "", "model-clinical": []})
    assert 'data-field="profile"' in nothing.content.decode()
    assert AnalysisRun.objects.count() == count + 1  # only the harmonised run


def test_a_finished_run_downloads_as_one_self_contained_html_report(cohort, client_logged_in):
    run = analysis_run_now(spec=SPEC)
    page = client_logged_in.get(f"/analytics/analyses/{run.pk}/").content.decode()
    assert f'href="/analytics/analyses/{run.pk}/report/"' in page
    response = client_logged_in.get(f"/analytics/analyses/{run.pk}/report/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="radimmuno-analysis-{run.pk}.html"'
    text = response.content.decode()
    assert text.startswith("<!doctype html>") and "<style>" in text and 'rel="stylesheet"' not in text
    assert 'id="tripod"' in text and f"{run.result['auc']:.3g}" in text and text.count("<svg") >= 2
    assert "Limitations" in text and "Model building" in text and "&quot;pdl1_tps&quot;" in text  # the spec
    assert "hx-get" not in text and "<script" not in text
    for study_id in Patient.objects.values_list("study_id", flat=True)[:5]:
        assert study_id not in text
    failed = analysis_run_now(spec={**SPEC, "target": {"biomarker": "pdl1_tps", "threshold": 1000}})
    assert failed.status == "failed"
    assert client_logged_in.get(f"/analytics/analyses/{failed.pk}/report/").status_code == 404


def test_peritumoral_ring_features_are_a_region_of_the_spec(cohort):
    ring = {**SPEC, "features": {"radiomics": {**SPEC["features"]["radiomics"], "region": "ring_0-3mm"}}}
    X, y, excluded, _ = prediction_table(spec=ring)  # the fixture's imported features are all of the lesion
    assert len(X) == 0 and excluded["no radiomic features at the baseline (or no stored delta)"] == 81
    from django.core.exceptions import ValidationError
    with pytest.raises(ValidationError) as error:
        analysis_run_create(spec={**SPEC, "features": {"radiomics": {"profile": "lifex", "region": "halo"}}})
    assert "ring_0-3mm" in error.value.message_dict["features.radiomics"][0]
