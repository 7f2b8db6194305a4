"""The final model: the pipeline tuned by the inner cross-validation and refitted on every patient.

Its performance is the nested cross-validation's (:mod:`.validation`), never its own fit. For the linear
models it is a **Rad-score**, stored as data (:func:`rad_score_formula`)::

    logit(p) = intercept + sum_i coef_i * (x_i - mean_i) / scale_i,    x_i missing -> median_i

over the features with a non-zero coefficient, on their raw values: ``median_i`` is the imputer's training
median, ``mean_i`` and ``scale_i`` the standard scaler's mean and standard deviation (ddof 0), ``coef_i`` and
``intercept`` the logistic regression's. :func:`rad_score` evaluates it with nothing but the formula and
reproduces the fitted pipeline's ``predict_proba`` (to rounding).

Feature importance: for the linear models the absolute standardised coefficient ``|coef_i|`` (the change in
log-odds per standard deviation); otherwise permutation importance (Breiman, Mach Learn 2001;45:5; Fisher,
Rudin & Dominici, JMLR 2019;20:177) on the training data: the mean drop in ROC AUC when one feature's values are
shuffled (10 seeded shuffles). Features the model does not use have importance 0 and are not listed.

The fitted pipeline is serialised with joblib (:func:`dump_model`); :func:`load_model` checks its SHA-256 before
unpickling — only load model files this application wrote.
"""
import hashlib
import io
import math

import joblib
import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance

from .model import LINEAR_MODELS
from .pipeline import build_search, selected_features
from .spec import validate_prediction_spec

__all__ = ["FinalModel", "rad_score_formula", "rad_score", "feature_importance", "dump_model", "load_model",
           "score_patients", "PERMUTATION_IMPORTANCE_REPEATS"]

PERMUTATION_IMPORTANCE_REPEATS = 10


class FinalModel:
    """The final model of a prediction spec, fitted on all patients (hyper-parameters by inner cross-validation).

    Parameters
    ----------
    spec : Mapping
        A prediction spec (:func:`~.spec.validate_prediction_spec`).
    n_jobs : int
        Parallel fits in the grid search and the permutation importance.

    Attributes
    ----------
    pipeline_ : sklearn.pipeline.Pipeline
        The refitted best pipeline.
    best_params_ : dict
    inner_auc_ : float
        The chosen candidate's mean inner-CV AUC on all data — optimistic (it chose the candidate); not a
        performance estimate.
    selected_features_ : list of str
        The features the model uses (non-zero coefficients for the linear models).
    rad_score_ : dict or None
        :func:`rad_score_formula` for the linear models.
    importance_ : list of dict
        :func:`feature_importance`.
    importance_method_ : str
    """

    def __init__(self, spec, *, n_jobs=1):
        self.spec = spec
        self.n_jobs = n_jobs

    def fit(self, X, y):
        spec = validate_prediction_spec(self.spec)
        search = build_search(spec, n_jobs=self.n_jobs).fit(X, np.asarray(y, dtype=int))
        self.pipeline_ = search.best_estimator_
        self.best_params_ = dict(search.best_params_)
        self.inner_auc_ = float(search.best_score_)
        self.selected_features_ = selected_features(self.pipeline_, spec["model"])
        linear = spec["model"] in LINEAR_MODELS
        self.rad_score_ = rad_score_formula(self.pipeline_, model=spec["model"]) if linear else None
        self.importance_, self.importance_method_ = feature_importance(
            self.pipeline_, X, y, model=spec["model"], seed=spec["seed"], n_jobs=self.n_jobs)
        return self


def _steps(pipeline):
    return (pipeline.named_steps["exclude"], pipeline.named_steps["impute"], pipeline.named_steps["scale"],
            pipeline.named_steps["model"])


def rad_score_formula(pipeline, *, model="l1_logistic"):
    """The fitted linear pipeline's Rad-score as data (see the module docstring).

    Returns
    -------
    dict
        ``model``, ``link: "logit"``, ``intercept``, ``terms`` [{``feature``, ``coefficient``, ``median``,
        ``mean``, ``scale``}] (non-zero coefficients, largest absolute first), ``expression`` (the formula as
        text) and ``text`` (with the numbers).
    """
    dropper, imputer, scaler, estimator = _steps(pipeline)
    names_in = list(dropper.get_feature_names_out())
    position = {name: i for i, name in enumerate(names_in)}
    used = list(pipeline[:-1].get_feature_names_out())
    coef = estimator.coef_.ravel()
    terms = []
    for name, c in zip(used, coef, strict=True):
        if c == 0:
            continue
        i = position[name]
        terms.append({"feature": name, "coefficient": float(c), "median": float(imputer.statistics_[i]),
                      "mean": float(scaler.mean_[i]), "scale": float(scaler.scale_[i])})
    terms.sort(key=lambda t: -abs(t["coefficient"]))
    intercept = float(estimator.intercept_[0])
    text = f"logit(p) = {intercept:.6g}" + "".join(
        f" {'+' if t['coefficient'] >= 0 else '−'} {abs(t['coefficient']):.6g} × ({t['feature']} "
        f"{'−' if t['mean'] >= 0 else '+'} {abs(t['mean']):.6g}) / {t['scale']:.6g}" for t in terms)
    expression = ("logit(p) = intercept + Σ coefficient_i × (x_i − mean_i) / scale_i; a missing x_i is replaced by "
                  "median_i; p = 1 / (1 + exp(−logit))")
    harmonised = "harmonise" in pipeline.named_steps
    if harmonised:
        expression += ("; x_i is the feature after ComBat harmonisation of its batch (the stored model applies it: "
                       "score with the model, not with this formula on raw values)")
    return {"model": model, "link": "logit", "intercept": intercept, "terms": terms, "expression": expression,
            "harmonised": harmonised, "text": text}


def rad_score(formula, features):
    """Evaluate a Rad-score formula on one patient's raw features.

    Parameters
    ----------
    formula : dict
        :func:`rad_score_formula` (as stored, e.g. decoded from JSON).
    features : Mapping
        Feature name -> raw value; a missing or ``None``/NaN value takes the formula's median. Other names are
        ignored.

    Returns
    -------
    (float, float)
        The logit (the Rad-score) and the probability ``1 / (1 + exp(-logit))``.
    """
    if formula.get("harmonised"):
        raise ValueError("this Rad-score applies to ComBat-harmonised features: score the patient with the stored "
                         "model, which harmonises the raw features first")
    score = float(formula["intercept"])
    for term in formula["terms"]:
        raw = features.get(term["feature"])
        value = math.nan if raw is None or raw is pd.NA else float(raw)
        if math.isnan(value):
            value = term["median"]
        elif math.isinf(value):
            raise ValueError(f"{term['feature']} is not a finite number ({raw!r})")
        score += term["coefficient"] * ((value - term["mean"]) / term["scale"])
    probability = 1.0 / (1.0 + math.exp(-score)) if score >= 0 else math.exp(score) / (1.0 + math.exp(score))
    return score, probability


def feature_importance(pipeline, X, y, *, model, seed, n_repeats=PERMUTATION_IMPORTANCE_REPEATS, n_jobs=1):
    """Importance of the features the fitted pipeline's model uses (see the module docstring).

    Permutation importance is computed on the features as they reach the model: every earlier step is
    per-feature at prediction time, so shuffling a raw feature and shuffling its transformed values is the
    same, and a feature the model does not use has importance exactly 0.

    Returns
    -------
    (list of dict, str)
        [{``feature``, ``importance``, plus ``coefficient`` (linear) or ``std`` (permutation)}], largest first,
        and a description of the method.
    """
    names = list(pipeline[:-1].get_feature_names_out())
    estimator = pipeline[-1]
    if model in LINEAR_MODELS:
        rows = [{"feature": name, "importance": abs(float(c)), "coefficient": float(c)}
                for name, c in zip(names, estimator.coef_.ravel(), strict=True) if c != 0]
        method = "absolute standardised coefficient (change in log-odds per standard deviation)"
    else:
        transformed = pipeline[:-1].transform(X)
        found = permutation_importance(estimator, transformed, np.asarray(y, dtype=int), scoring="roc_auc",
                                       n_repeats=n_repeats, random_state=seed, n_jobs=n_jobs)
        rows = [{"feature": name, "importance": float(m), "std": float(s)}
                for name, m, s in zip(names, found.importances_mean, found.importances_std, strict=True)]
        method = (f"permutation importance: mean decrease in ROC AUC over {n_repeats} shuffles of each feature, on "
                  "the training data (all patients)")
    rows.sort(key=lambda r: -r["importance"])
    return rows, method


def dump_model(pipeline):
    """``(bytes, sha256 hex)`` of the fitted pipeline serialised with joblib (zlib level 3)."""
    buffer = io.BytesIO()
    joblib.dump(pipeline, buffer, compress=3)
    data = buffer.getvalue()
    return data, hashlib.sha256(data).hexdigest()


def load_model(data, *, sha256=None):
    """The fitted pipeline from :func:`dump_model`'s bytes. With ``sha256`` the bytes are checked first and a
    mismatch raises ``ValueError`` (unpickling runs code: load only files this application wrote)."""
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError("the model file does not match its stored SHA-256; refusing to load it")
    return joblib.load(io.BytesIO(data))


def score_patients(pipeline, X):
    """Predicted probability of the positive class for each row of ``X`` (patients x raw features).

    ``X`` needs the features the model uses (the result's ``selected_features``); any other feature of the
    training table may be absent or missing: it is imputed and then dropped by the fitted filters, so it cannot
    change the probability. Extra columns are ignored and the order does not matter. Missing values of the used
    features are imputed with the stored medians.

    Returns
    -------
    pandas.Series
        Named ``probability``, indexed like ``X``.
    """
    expected = list(pipeline[0].feature_names_in_)  # the training table's columns (with a batch column if any)
    needed = list(pipeline[:-1].get_feature_names_out())
    coef = getattr(pipeline[-1], "coef_", None)
    if coef is not None:
        needed = [name for name, c in zip(needed, coef.ravel(), strict=True) if c != 0]
    missing = [name for name in needed if name not in X.columns]
    if missing:
        raise ValueError(f"{len(missing)} features the model needs are missing: {', '.join(missing[:10])}"
                         + (" …" if len(missing) > 10 else ""))
    frame = X.reindex(columns=expected)
    probability = pipeline.predict_proba(frame)[:, 1]
    return pd.Series(probability, index=X.index, name="probability")
