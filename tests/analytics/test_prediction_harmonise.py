"""ComBat as a step of the prediction pipeline (spec key ``harmonise``): fitted on each training fold only,
identical to ComBat itself, and the difference it makes on a cohort with a scanner effect."""
import json

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from analytics.compute.harmonisation import ComBat
from analytics.compute.prediction import (AnalysisError, BatchHarmoniser, SpecError, load_model, rad_score,
                                          run_prediction, score_patients, validate_prediction_spec)

FAST_CV = {"outer_folds": 3, "inner_folds": 3, "repeats": 1}
HARMONISE = {"batch": "manufacturer"}


def scanner_table(n=150, p=30, seed=4):
    """One informative feature among noise, and three scanners that shift and scale *every* feature by far more
    than the signal (as manufacturers shift texture features); the scanner is independent of the outcome."""
    rng = np.random.default_rng(seed)
    scanner = rng.integers(0, 3, size=n)
    signal = rng.normal(size=n)
    base = rng.normal(size=(n, p))
    base[:, 0] = signal
    shift, scale = np.array([0.0, 20.0, -15.0]), np.array([1.0, 6.0, 0.2])
    values = base * scale[scanner, None] + shift[scanner, None] * (1 + np.arange(p) % 3)
    X = pd.DataFrame(values, columns=["signal", *[f"noise_{i:02d}" for i in range(1, p)]],
                     index=pd.Index(np.arange(1, n + 1), name="patient_id"))
    X["age_at_start"] = rng.normal(65, 8, size=n).round()
    X["batch:manufacturer"] = scanner.astype(float)
    y = pd.Series((rng.random(n) < expit(2.5 * signal)).astype(int), index=X.index)
    return X, y


def test_the_step_is_combat_on_the_training_samples_and_leaves_clinical_and_constant_columns_alone():
    X, _ = scanner_table()
    X["constant_in_a_batch"] = np.where(X["batch:manufacturer"] == 1, 7.0, np.arange(len(X), dtype=float))
    train, test = X.iloc[:100], X.iloc[100:]
    step = BatchHarmoniser(batch="batch:manufacturer", unadjusted=("age_at_start",)).fit(train)
    adjusted = [c for c in X.columns if c.startswith(("signal", "noise"))]
    assert step.adjusted_ == adjusted
    assert step.unadjusted_ == ["age_at_start", "constant_in_a_batch"]
    combat = ComBat(batch="batch").fit(train[adjusted], pd.DataFrame({"batch": train["batch:manufacturer"].astype(str)}))
    for frame in (train, test):
        out = step.transform(frame)
        expected = combat.transform(frame[adjusted], pd.DataFrame({"batch": frame["batch:manufacturer"].astype(str)}))
        assert list(out.columns) == [c for c in X.columns if c != "batch:manufacturer"]
        assert np.abs(out[adjusted].to_numpy() - expected.to_numpy()).max() < 1e-12
        assert out["age_at_start"].equals(frame["age_at_start"])
        assert out["constant_in_a_batch"].equals(frame["constant_in_a_batch"])
    # the held-out samples never change what was learned
    changed = test.copy()
    changed[adjusted] = changed[adjusted] * 100
    again = BatchHarmoniser(batch="batch:manufacturer", unadjusted=("age_at_start",)).fit(train)
    assert np.array_equal(again.transform(train).to_numpy(), step.transform(train).to_numpy())


def test_missing_values_take_the_training_median_and_an_unseen_batch_is_refused():
    X, _ = scanner_table()
    X.iloc[3, 1] = np.nan
    step = BatchHarmoniser(batch="batch:manufacturer").fit(X)
    assert np.isfinite(step.transform(X).to_numpy()).all()
    assert step.medians_["noise_01"] == X["noise_01"].median()
    new = X.iloc[:2].copy()
    new["batch:manufacturer"] = 9.0
    with pytest.raises(AnalysisError, match="not in the training data"):
        step.transform(new)


def test_harmonising_removes_the_scanner_effect_inside_the_folds():
    X, y = scanner_table()
    spec = {"cv": FAST_CV, "permutations": 3, "bootstrap": 200, "seed": 2, "selection": {"method": "none"}}
    plain, _ = run_prediction(spec, X.drop(columns=["batch:manufacturer"]), y)
    harmonised, model_bytes = run_prediction({**spec, "harmonise": {**HARMONISE, "unadjusted": ["age_at_start"]}},
                                             X, y)
    # measured: 0.572 without, 0.853 with (the scanners' shifts swamp the signal until ComBat removes them)
    assert plain["auc"] < 0.65 and harmonised["auc"] > 0.8
    assert harmonised["auc_lower"] > 0.5 and abs(harmonised["permuted_auc"] - 0.5) <= 0.1
    assert harmonised["n_features"] == X.shape[1] - 1  # the batch column is not a feature
    assert "batch:manufacturer" not in harmonised["selected_features"]
    summary = harmonised["harmonise"]
    assert summary["batch"] == "manufacturer" and summary["n_adjusted"] == 30 and summary["n_unadjusted"] == 1
    assert sum(summary["n_per_batch"].values()) == len(X)
    assert harmonised["pipeline"]["steps"][0]["step"] == "harmonise"
    assert harmonised["rad_score"]["harmonised"] is True
    with pytest.raises(ValueError, match="harmonised"):
        rad_score(harmonised["rad_score"], X.iloc[0].to_dict())
    model = load_model(model_bytes, sha256=harmonised["model_sha256"])
    probabilities = score_patients(model, X.iloc[:5])
    assert probabilities.between(0, 1).all()
    json.dumps(harmonised, allow_nan=False)


@pytest.mark.parametrize("change, message", [
    (lambda X: X.drop(columns=["batch:manufacturer"]), "no batch column"),
    (lambda X: X.assign(**{"batch:manufacturer": 0.0}), "nothing to harmonise"),
    (lambda X: X.assign(**{"batch:manufacturer": np.r_[np.zeros(len(X) - 4), np.ones(4)]}), "fewer than 6"),
    (lambda X: X.assign(**{"batch:manufacturer": np.r_[np.nan, np.zeros(len(X) - 1)]}), "have no manufacturer"),
])
def test_a_batch_column_that_cannot_be_harmonised_is_refused_with_the_reason(change, message):
    X, y = scanner_table()
    with pytest.raises(AnalysisError, match=message):
        run_prediction({"cv": FAST_CV, "permutations": 1, "bootstrap": 100, "harmonise": HARMONISE}, change(X), y)


@pytest.mark.parametrize("value, message", [
    ({"method": "limma", "batch": "site"}, "method must be combat"),
    ({}, "needs the batch"),
    ({"batch": "site", "eb": "yes"}, "eb must be true or false"),
    ({"batch": "site", "covariates": []}, "unknown key"),
    ("site", "must be an object"),
])
def test_harmonise_spec_errors_name_the_field(value, message):
    with pytest.raises(SpecError, match=message) as error:
        validate_prediction_spec({"harmonise": value})
    assert error.value.field == "harmonise"


def test_harmonise_defaults():
    assert validate_prediction_spec({})["harmonise"] is None
    assert validate_prediction_spec({"harmonise": {"batch": "site"}})["harmonise"] == {
        "method": "combat", "batch": "site", "column": "batch:site", "preserve": [], "unadjusted": [], "eb": True,
        "parametric": True}
