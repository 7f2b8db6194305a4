"""The prediction package (analytics.compute.prediction), no database: honest validation on noise, a planted
signal found, the Rad-score formula equal to the fitted pipeline, calibration against reference fits, fold
discipline, every estimator, spec and data errors, reproducibility.

The cross-validation schemes here are reduced (3 outer x 3 inner folds, 1 repeat, few permutations, a few
hundred bootstrap resamples) to keep each test within seconds on two shared cores; the defaults are 5 x 5 x 3,
10 permutations and 1,000 resamples.
"""
import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import brentq
from scipy.special import expit, logit
from sklearn.calibration import calibration_curve
from sklearn.feature_selection import SelectKBest, f_classif
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.preprocessing import StandardScaler

from analytics.compute import survival
from analytics.compute.prediction import (MODELS, AnalysisError, CalibrationWarning, CorrelationFilter, FinalModel,
                                          L1Selector, NamedFeatureDropper, NestedCV, SpecError, UnivariateSelector, auc,
                                          bootstrap_auc, calibration_plot_svg, calibration_table, canonical_table_csv,
                                          dump_model, importance_plot_svg, input_sha256, leak_assessment, load_model,
                                          logistic_recalibration, minimum_minority, rad_score, rad_score_formula,
                                          roc_on_grid, roc_plot_svg, run_prediction, score_patients,
                                          validate_prediction_spec)
from analytics.compute.survival.runner import canonical_csv

FAST_CV = {"outer_folds": 3, "inner_folds": 3, "repeats": 1}


def noise_table(n=100, p=1000, seed=0):
    """n patients, p pure-noise features, a random balanced 0/1 target (independent of everything)."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, p)), columns=[f"noise_{i:04d}" for i in range(p)],
                     index=pd.Index(np.arange(1, n + 1), name="patient_id"))
    y = pd.Series(rng.permutation(np.r_[np.ones(n // 2, int), np.zeros(n - n // 2, int)]), index=X.index)
    return X, y


def planted_table(n=120, p_noise=57, seed=1, missing=0.0):
    """Three informative features (signal_a, signal_b raise the risk, signal_c lowers it) among noise; the
    target is drawn from the logistic model logit p = 1.5 (a + b - c), on raw features with other scales."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=(n, 3))
    X = pd.DataFrame(rng.normal(size=(n, p_noise)), columns=[f"noise_{i:03d}" for i in range(p_noise)])
    X.insert(0, "signal_a", 10 + 2 * signal[:, 0])
    X.insert(min(5, X.shape[1]), "signal_b", -3 + 0.5 * signal[:, 1])
    X.insert(min(11, X.shape[1]), "signal_c", 100 + 20 * signal[:, 2])
    X.index = pd.Index(np.arange(500, 500 + n), name="patient_id")
    risk = expit(1.5 * (signal[:, 0] + signal[:, 1] - signal[:, 2]))
    y = pd.Series((rng.random(n) < risk).astype(int), index=X.index)
    if missing:
        mask = rng.random(X.shape) < missing
        X = X.mask(mask)
    return X, y


# --- Acceptance 1: noise stays noise; selection outside the CV would not --------------------------------------------

def test_noise_gives_an_auc_ci_containing_half_while_selecting_on_all_data_first_looks_predictive():
    X, y = noise_table()
    result, _ = run_prediction({"cv": FAST_CV, "permutations": 2, "bootstrap": 500, "seed": 0}, X, y)
    assert result["n"] == 100 and result["positives"] == 50 and result["n_features"] == 1000
    assert result["auc_lower"] < 0.5 < result["auc_upper"], result["auc"]
    assert abs(result["permuted_auc"] - 0.5) < 0.15
    # The mistake the pipeline prevents: the 20 "best" features chosen on all 100 patients, then a plain CV.
    selected = SelectKBest(f_classif, k=20).fit_transform(X, y)
    leaky = cross_val_score(LogisticRegression(), selected, y, scoring="roc_auc",
                            cv=StratifiedKFold(5, shuffle=True, random_state=0)).mean()
    assert leaky > 0.7
    assert leaky > result["auc_upper"]


# --- Acceptance 2 (compute side): a planted signal is found ---------------------------------------------------------

def test_a_planted_signal_is_found_and_the_permuted_control_sits_near_half():
    X, y = planted_table()
    result, model_bytes = run_prediction({"cv": FAST_CV, "permutations": 4, "bootstrap": 500, "seed": 3}, X, y)
    assert result["auc_lower"] > 0.7
    assert {"signal_a", "signal_b", "signal_c"} <= set(result["selected_features"])
    assert abs(result["permuted_auc"] - 0.5) <= 0.1 and result["leak_warning"] is None
    assert len(result["permuted_aucs"]) == 4
    assert result["importance"][0]["feature"] in ("signal_a", "signal_b", "signal_c")
    signs = {t["feature"]: np.sign(t["coefficient"]) for t in result["rad_score"]["terms"]}
    assert signs["signal_a"] == 1 and signs["signal_b"] == 1 and signs["signal_c"] == -1
    assert 0 < result["brier"] < 0.25 and 0.5 < result["balanced_accuracy"] <= 1
    assert result["model_sha256"] and len(model_bytes) > 100
    json.dumps(result, allow_nan=False)


def test_the_permuted_control_flags_a_pipeline_that_selects_features_on_all_patients(monkeypatch):
    """Break the design on purpose: every cross-validation (real and permuted) first keeps the 10 features most
    associated with *its* labels on all patients. The permuted runs then "predict" shuffled labels too."""
    X, y = noise_table(n=60, p=300, seed=5)
    honest_fit = NestedCV.fit

    def leaky_fit(self, X, y, progress=None):
        top = np.argsort(-f_classif(X, y)[0])[:10]
        return honest_fit(self, X.iloc[:, top], y, progress)

    monkeypatch.setattr(NestedCV, "fit", leaky_fit)
    result, _ = run_prediction({"cv": FAST_CV, "permutations": 3, "bootstrap": 200}, X, y)
    assert result["permuted_auc"] > 0.7
    assert result["leak_warning"] and "leaks" in result["leak_warning"]


def test_leak_assessment_tolerance():
    assert leak_assessment([0.48, 0.52, 0.55, 0.45])[1] is None
    tolerance, text = leak_assessment([0.74, 0.78, 0.8])
    assert tolerance == pytest.approx(0.1) and "leaks" in text
    assert "worse than chance" in leak_assessment([0.3, 0.32, 0.28])[1]
    # a wide spread widens the tolerance (3 standard errors), so two noisy permutations are not a leak
    assert leak_assessment([0.35, 0.95])[1] is None


# --- The Rad-score and the stored model -----------------------------------------------------------------------------

@pytest.mark.parametrize("model", ["l1_logistic", "elastic_net"])
def test_the_rad_score_formula_reproduces_predict_proba_on_raw_features(model):
    X, y = planted_table(n=90, p_noise=9, seed=4, missing=0.05)
    spec = validate_prediction_spec({"model": model, "cv": FAST_CV, "exclude_features": ["noise_000"]})
    final = FinalModel(spec).fit(X, y)
    formula = json.loads(json.dumps(rad_score_formula(final.pipeline_, model=model)))  # as stored
    assert formula["terms"] and "noise_000" not in [t["feature"] for t in formula["terms"]]
    new = planted_table(n=12, p_noise=9, seed=99)[0]
    top = formula["terms"][0]["feature"]
    new.loc[new.index[0], top] = np.nan                       # a missing value: the stored median stands in
    logits = final.pipeline_.decision_function(new)
    probabilities = final.pipeline_.predict_proba(new)[:, 1]
    for i, (_, row) in enumerate(new.iterrows()):
        score, probability = rad_score(formula, row.to_dict())
        assert abs(score - logits[i]) < 1e-12
        assert abs(probability - probabilities[i]) < 1e-12
    first = new.iloc[0].drop(top).to_dict()                   # an absent key is missing too
    assert abs(rad_score(formula, first)[0] - logits[0]) < 1e-12
    median = next(t["median"] for t in formula["terms"] if t["feature"] == top)
    assert median == final.pipeline_.named_steps["impute"].statistics_[
        list(final.pipeline_.named_steps["exclude"].get_feature_names_out()).index(top)]

    data, sha = dump_model(final.pipeline_)
    reloaded = load_model(data, sha256=sha)
    assert np.array_equal(reloaded.predict_proba(new), final.pipeline_.predict_proba(new))
    shuffled = new[new.columns[::-1]].drop(columns=["noise_000"])   # any column order; excluded feature absent
    assert np.array_equal(score_patients(reloaded, shuffled).to_numpy(), probabilities)
    only_used = new[final.selected_features_]                 # the features the model uses suffice
    assert np.array_equal(score_patients(reloaded, only_used).to_numpy(), probabilities)
    with pytest.raises(ValueError, match="SHA-256"):
        load_model(data, sha256="0" * 64)
    with pytest.raises(ValueError, match="missing"):
        score_patients(reloaded, new.drop(columns=[top]))


# --- Metrics against references --------------------------------------------------------------------------------------

def test_calibration_slope_and_intercept_match_reference_fits():
    rng = np.random.default_rng(11)
    p = expit(rng.normal(0, 1.5, size=400))
    y = (rng.random(400) < expit(0.3 + 0.7 * logit(p))).astype(int)
    fitted = logistic_recalibration(y, p)
    reference = LogisticRegression(C=np.inf, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    reference.fit(logit(p)[:, None], y)
    assert fitted["slope"] == pytest.approx(reference.coef_[0, 0], abs=1e-6)
    # calibration-in-the-large: the intercept a solving the score equation sum(y - expit(a + logit p)) = 0
    a = brentq(lambda a: np.sum(y - expit(a + logit(p))), -5, 5, xtol=1e-14)
    assert fitted["intercept"] == pytest.approx(a, abs=1e-6)
    sm = pytest.importorskip("statsmodels.api")
    glm_slope = sm.GLM(y, sm.add_constant(logit(p)), family=sm.families.Binomial()).fit()
    glm_intercept = sm.GLM(y, np.ones(400), family=sm.families.Binomial(), offset=logit(p)).fit()
    assert fitted["slope"] == pytest.approx(glm_slope.params[1], abs=1e-6)
    assert fitted["intercept"] == pytest.approx(glm_intercept.params[0], abs=1e-6)
    # perfectly calibrated predictions recalibrate to (about) slope 1, intercept 0
    y_ideal = (rng.random(20000) < (p_ideal := expit(rng.normal(0, 1.5, size=20000)))).astype(int)
    ideal = logistic_recalibration(y_ideal, p_ideal)
    assert ideal["slope"] == pytest.approx(1, abs=0.05) and ideal["intercept"] == pytest.approx(0, abs=0.05)


def test_calibration_is_none_with_a_typed_warning_when_separated():
    with pytest.warns(CalibrationWarning, match="separate"):
        fitted = logistic_recalibration([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert fitted["slope"] is None and fitted["intercept"] is not None


def test_auc_roc_and_calibration_table_agree_with_scikit_learn():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, size=150)
    p = np.round(expit(rng.normal(size=150) + y), 2)             # rounded: ties
    assert auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    fpr, tpr, _ = roc_curve(y, p)
    curve = roc_on_grid(y, p, fpr)
    upper = [tpr[fpr == f].max() for f in fpr]                   # at a vertex, the top of a vertical segment
    assert np.allclose(curve, upper)
    assert np.trapezoid(roc_on_grid(y, p, np.linspace(0, 1, 20001)), np.linspace(0, 1, 20001)) == pytest.approx(
        roc_auc_score(y, p), abs=1e-3)
    oof = np.vstack([p, np.round(expit(rng.normal(size=150) + y), 2)])
    table = calibration_table(y, oof)
    observed, predicted = calibration_curve(np.tile(y, 2), oof.ravel(), n_bins=10, strategy="quantile")
    assert np.allclose([r["observed"] for r in table], observed)
    assert np.allclose([r["predicted"] for r in table], predicted)
    assert sum(r["n"] for r in table) == 300


def test_the_bootstrap_interval_is_seeded_and_reproducible():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, size=80)
    oof = expit(rng.normal(size=(2, 80)) + y)
    first = bootstrap_auc(y, oof, n_boot=400, seed=7)
    again = bootstrap_auc(y, oof, n_boot=400, seed=7)
    other = bootstrap_auc(y, oof, n_boot=400, seed=8)
    assert (first["auc_lower"], first["auc_upper"]) == (again["auc_lower"], again["auc_upper"])
    assert np.array_equal(first["roc_upper"], again["roc_upper"])
    assert (first["auc_lower"], first["auc_upper"]) != (other["auc_lower"], other["auc_upper"])
    point = np.mean([auc(y, row) for row in oof])
    assert first["auc_lower"] < point < first["auc_upper"]
    assert np.all(first["roc_lower"] <= first["roc_upper"])


# --- Fold discipline -------------------------------------------------------------------------------------------------

def test_every_transformer_is_fitted_on_the_training_fold_only(monkeypatch):
    X, y = planted_table(n=60, p_noise=12, seed=8, missing=0.1)
    X["copy_of_a"] = X["signal_a"] * 3 + np.random.default_rng(0).normal(0, 1.5, size=len(X))  # |r| near 0.9
    spec = validate_prediction_spec({"cv": {"outer_folds": 3, "inner_folds": 2, "repeats": 2},
                                     "exclude_features": ["noise_001"], "correlation_threshold": 0.9})
    log = []
    fit = NamedFeatureDropper.fit

    def spy(self, X, y=None):
        log.append(("fit", frozenset(X.index)))
        return fit(self, X, y)

    monkeypatch.setattr(NamedFeatureDropper, "fit", spy)
    nested = NestedCV(spec, keep_models=True).fit(X, y.to_numpy(), progress=lambda done, total, m: log.append(
        ("fold", done)))
    fits_per_fold, current = [], []
    for kind, value in log:
        if kind == "fit":
            current.append(value)
        else:
            fits_per_fold.append(current)
            current = []
    assert len(fits_per_fold) == len(nested.folds_) == 6
    for fold, fits, model in zip(nested.folds_, fits_per_fold, nested.models_, strict=True):
        train, test = frozenset(X.index[fold["train"]]), frozenset(X.index[fold["test"]])
        assert fits and all(seen <= train and not seen & test for seen in fits)
        assert fits[-1] == train                                  # the refit: exactly the outer training fold
        rows = X.iloc[fold["train"]]
        kept = [c for c in X.columns if c != "noise_001"]
        assert np.allclose(model.named_steps["impute"].statistics_, rows[kept].median().to_numpy(), rtol=1e-14, atol=0)
        decorrelate = model.named_steps["decorrelate"]
        on_train = CorrelationFilter(0.9).fit(model[:3].transform(rows))
        on_all = CorrelationFilter(0.9).fit(model[:3].transform(X))
        assert np.array_equal(decorrelate.max_abs_r_, on_train.max_abs_r_)
        assert not np.array_equal(decorrelate.max_abs_r_, on_all.max_abs_r_)
    # every patient predicted once per repeat, by a model whose training fold excluded them
    for repeat in range(2):
        tests = np.concatenate([f["test"] for f in nested.folds_ if f["repeat"] == repeat])
        assert sorted(tests) == list(range(len(X)))


def test_the_correlation_filter_keeps_the_feature_listed_first(monkeypatch):
    rng = np.random.default_rng(4)
    base = rng.normal(size=(50, 6))
    X = np.column_stack([base, base[:, 0] * 2 + 0.01 * rng.normal(size=50), rng.normal(size=50), np.ones(50),
                         base[:, 3] + 0.05 * rng.normal(size=50)])
    fitted = CorrelationFilter(threshold=0.9).fit(X)
    assert list(np.flatnonzero(~fitted.support_)) == [6, 8, 9]
    assert fitted.partner_[6] == 0 and fitted.partner_[9] == 3 and fitted.constant_[8]
    assert fitted.max_abs_r_[6] > 0.99 and np.all(fitted.max_abs_r_[fitted.support_] <= 0.9)
    # the same answer as the definition: each feature against every earlier kept one
    r = np.abs(np.corrcoef(X[:, [i for i in range(10) if i != 8]].T))
    kept = []
    for j in range(9):
        if all(r[i, j] <= 0.9 for i in kept):
            kept.append(j)
    assert len(kept) == fitted.support_.sum()
    monkeypatch.setattr(CorrelationFilter, "_BLOCK", 3)            # blocks of 3 columns: the same answer
    blocked = CorrelationFilter(threshold=0.9).fit(X)
    assert np.array_equal(blocked.support_, fitted.support_) and np.allclose(blocked.max_abs_r_, fitted.max_abs_r_)
    assert list(fitted.get_feature_names_out([f"f{i}" for i in range(10)])) == [
        f"f{i}" for i in range(10) if i not in (6, 8, 9)]


def test_the_selectors_keep_at_most_k_and_never_nothing():
    X, y = planted_table(n=80, p_noise=6, seed=13)
    values = StandardScaler().fit_transform(X)
    univariate = UnivariateSelector(k=50).fit(values, y)            # k above the features left: all kept
    assert univariate.support_.all()
    top2 = UnivariateSelector(k=2).fit(values, y)
    assert top2.support_.sum() == 2 and set(np.flatnonzero(top2.support_)) == set(np.argsort(-top2.scores_)[:2])
    lasso = L1Selector(C=1.0, k=2, random_state=0).fit(values, y)
    assert lasso.support_.sum() == 2 and not lasso.entered_first_
    assert set(X.columns[lasso.support_]) <= {"signal_a", "signal_b", "signal_c"}
    # so strong a penalty that every coefficient is 0: the first feature on the L1 path is kept
    tiny = L1Selector(C=1e-6, k=5, random_state=0).fit(values, y)
    correlation = np.abs([np.corrcoef(values[:, j], y)[0, 1] for j in range(values.shape[1])])
    assert tiny.entered_first_ and list(np.flatnonzero(tiny.support_)) == [int(np.argmax(correlation))]


# --- Every estimator; spec and data errors ---------------------------------------------------------------------------

@pytest.mark.parametrize("model", MODELS)
def test_every_model_runs_on_a_tiny_data_set(model):
    X, y = planted_table(n=44, p_noise=5, seed=6, missing=0.05)
    spec = {"model": model, "cv": {"outer_folds": 2, "inner_folds": 2, "repeats": 1}, "permutations": 1,
            "bootstrap": 100, "selection": {"method": "l1" if model == "l1_logistic" else "univariate", "k": 4}}
    result, model_bytes = run_prediction(spec, X, y)
    json.dumps(result, allow_nan=False)
    assert result["kind"] == "classification" and result["model"] == model and 0 <= result["auc"] <= 1
    assert result["selected_features"] and result["importance"]
    assert (result["rad_score"] is not None) == (model in ("l1_logistic", "elastic_net"))
    assert set(result["final_params"]) == set(result["pipeline"]["grid"])
    reloaded = load_model(model_bytes, sha256=result["model_sha256"])
    assert np.all(np.isfinite(score_patients(reloaded, X)))


@pytest.mark.parametrize(("spec", "field"), [
    ({"model": "xgboost"}, "model"),
    ({"seed": -1}, "seed"),
    ({"seed": True}, "seed"),
    ({"cv": {"outer_folds": 1}}, "cv"),
    ({"cv": {"outerfolds": 5}}, "cv"),
    ({"cv": [5, 5]}, "cv"),
    ({"selection": {"method": "pca"}}, "selection"),
    ({"selection": {"k": 0}}, "selection"),
    ({"correlation_threshold": 0}, "correlation_threshold"),
    ({"permutations": 0}, "permutations"),
    ({"threshold": 1.0}, "threshold"),
    ({"bootstrap": 10}, "bootstrap"),
    ({"exclude_features": "original_shape_Sphericity"}, "exclude_features"),
    ({"exclude_features": [""]}, "exclude_features"),
])
def test_spec_errors_name_their_field(spec, field):
    with pytest.raises(SpecError) as caught:
        validate_prediction_spec(spec)
    assert caught.value.field == field and caught.value.message


def test_spec_defaults_and_the_one_spec_error_class():
    assert SpecError is survival.SpecError and AnalysisError is survival.AnalysisError
    spec = validate_prediction_spec({"kind": "classification", "target": {"response": "objective"}})
    assert spec == {"model": "l1_logistic", "seed": 0,
                    "cv": {"outer_folds": 5, "inner_folds": 5, "repeats": 3, "permutation_repeats": 1},
                    "selection": {"method": "univariate", "k": 20}, "correlation_threshold": 0.9,
                    "permutations": 10, "threshold": 0.5, "bootstrap": 1000, "exclude_features": [],
                    "harmonise": None}
    with pytest.raises(SpecError) as caught:
        validate_prediction_spec({"kind": "classification"}, strict=True)
    assert caught.value.field == "kind"


def test_data_a_researcher_must_fix_raises_analysis_errors_with_the_numbers():
    X, y = planted_table(n=60, p_noise=5, seed=7)
    few = y.copy()
    few[:] = 0
    few.iloc[:8] = 1
    assert minimum_minority(5, 5) == 13
    with pytest.raises(AnalysisError, match=r"Only 8 patients are positive.*at least 13"):
        run_prediction({}, X, few)
    with pytest.raises(AnalysisError, match=r"at least 10"):
        run_prediction({"cv": {"outer_folds": 3, "inner_folds": 3}}, X, few)
    with pytest.raises(AnalysisError, match="All 60 patients are negative"):
        run_prediction({}, X, few * 0)
    with pytest.raises(AnalysisError, match="No features are left"):
        run_prediction({"exclude_features": list(X.columns)}, X, y)
    empty = X.assign(noise_002=np.nan)
    with pytest.raises(AnalysisError, match="noise_002"):
        run_prediction({}, empty, y)
    with pytest.raises(AnalysisError, match="not numeric"):
        run_prediction({}, X.assign(site="A"), y)
    with pytest.raises(AnalysisError, match="no outcome"):
        run_prediction({}, X, y.astype(float).where(y.index != y.index[0]))
    with pytest.raises(AnalysisError, match="same value"):
        run_prediction({}, X * 0, y)


# --- Reproducibility, hashes, progress, figures -----------------------------------------------------------------------

def test_the_same_spec_and_data_give_the_same_numbers_whatever_the_row_order():
    X, y = planted_table(n=50, p_noise=6, seed=9, missing=0.05)
    spec = {"cv": {"outer_folds": 2, "inner_folds": 2, "repeats": 2}, "permutations": 2, "bootstrap": 100,
            "seed": 17}
    calls = []
    first, first_bytes = run_prediction(spec, X, y, progress=lambda *args: calls.append(args))
    order = np.random.default_rng(0).permutation(len(X))
    again, again_bytes = run_prediction(spec, X.iloc[order], y.iloc[order])
    assert first == again and first_bytes == again_bytes
    assert [c[0] for c in calls] == list(range(1, 10)) and {c[1] for c in calls} == {9}
    assert calls[0][2] == "cross-validation: repeat 1/2, outer fold 1/2"
    assert calls[-1][2] == "final model fitted on all patients"
    other, _ = run_prediction({**spec, "seed": 18}, X, y)
    assert other["auc_by_repeat"] != first["auc_by_repeat"] and other["permuted_aucs"] != first["permuted_aucs"]
    # the random forest's own randomness is seeded too
    forest = validate_prediction_spec({"model": "random_forest", "cv": {"outer_folds": 2, "inner_folds": 2,
                                                                        "repeats": 1}, "seed": 17})
    assert np.array_equal(NestedCV(forest).fit(X, y).oof_, NestedCV(forest).fit(X, y).oof_)


def test_the_input_hash_is_the_survival_canonical_csv_of_the_table():
    X, y = planted_table(n=8, p_noise=2, seed=10, missing=0.2)
    frame = X.reset_index().assign(outcome=y.to_numpy())
    assert canonical_table_csv(X, y) == canonical_csv(frame, ["patient_id"])
    result, _ = run_prediction({"cv": {"outer_folds": 2, "inner_folds": 2, "repeats": 1}, "permutations": 1,
                                "bootstrap": 100}, *planted_table(n=40, p_noise=3, seed=10))
    X40, y40 = planted_table(n=40, p_noise=3, seed=10)
    assert result["input_sha256"] == hashlib.sha256(canonical_table_csv(X40, y40).encode()).hexdigest()
    changed = X40.copy()
    changed.iloc[0, 0] += 1e-9
    assert input_sha256(changed, y40) != result["input_sha256"] == input_sha256(X40, y40)


def test_the_figures_are_svg_with_the_numbers_in_them():
    X, y = planted_table(n=60, p_noise=8, seed=12)
    result, _ = run_prediction({"cv": {"outer_folds": 2, "inner_folds": 2, "repeats": 1}, "permutations": 2,
                                "bootstrap": 100}, X, y)
    roc = roc_plot_svg(result)
    assert roc.startswith("<svg") and f"AUC {result['auc']:.2f}" in roc and "permuted labels" in roc
    calibration = calibration_plot_svg(result)
    assert calibration.startswith("<svg") and "calibration slope" in calibration
    importance = importance_plot_svg(result)
    assert importance.startswith("<svg") and result["importance"][0]["feature"] in importance
    assert roc_plot_svg(result) == roc                            # byte-identical on redraw
