"""One classification analysis from spec and data to result: checks, nested CV, permuted control, final model.

:func:`run_prediction` returns ``(result, model_bytes)``: a JSON-safe dict (every float finite or ``None``;
``json.dumps(result, allow_nan=False)`` works) and the joblib bytes of the final model (whose SHA-256 is
``result["model_sha256"]``). Patients are analysed in the order of their ids (the input's row order does not
change the numbers); features in the input's column order (the correlation filter keeps the one listed first).
"""
import csv
import hashlib
import io
import math
import warnings
from collections import Counter

import joblib
import numpy as np
import pandas as pd
import scipy
import sklearn
from sklearn.exceptions import ConvergenceWarning

from .final import FinalModel, dump_model
from .metrics import ROC_GRID, bootstrap_auc, brier_score, calibration_slope_intercept, calibration_table, roc_on_grid
from .metrics import threshold_metrics
from .model import LINEAR_MODELS, AnalysisError, NoFeaturesLeftError, PredictionWarning
from .pipeline import describe_pipeline
from .spec import validate_prediction_spec
from .validation import BOOTSTRAP_STREAM, LEAK_TOLERANCE, NestedCV, check_class_counts, leak_assessment
from .validation import permuted_label_control

__all__ = ["run_prediction", "input_sha256", "canonical_table_csv", "prepare_data"]


def _versions():
    return {"scikit-learn": sklearn.__version__, "numpy": np.__version__, "pandas": pd.__version__,
            "scipy": scipy.__version__, "joblib": joblib.__version__}


def _names(names, limit=10):
    names = list(names)
    return ", ".join(map(str, names[:limit])) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def prepare_data(X, y):
    """Check the table and return ``(X as float64 sorted by patient id, y as int 0/1 aligned with it)``.

    Raises
    ------
    ValueError
        Structural mistakes of the caller (not a DataFrame/Series, duplicated ids or names, y not matching X).
    AnalysisError
        Data a researcher must fix: non-numeric or infinite features, missing or non-binary outcomes.
    """
    if not isinstance(X, pd.DataFrame):
        raise ValueError("X must be a pandas DataFrame (rows = patients, index = patient id, columns = features)")
    if not isinstance(y, pd.Series):
        raise ValueError("y must be a pandas Series indexed by patient id")
    if X.index.has_duplicates:
        raise ValueError(f"patient ids appear twice in X: {_names(X.index[X.index.duplicated()].unique())}")
    if y.index.has_duplicates or set(y.index) != set(X.index):
        raise ValueError("y must have exactly one value per patient of X (same patient ids)")
    if X.shape[1] == 0:
        raise NoFeaturesLeftError("The feature table has no features; choose feature families in the spec.")
    X = X.rename(columns=str)
    if X.columns.has_duplicates:
        raise ValueError(f"feature names appear twice: {_names(X.columns[X.columns.duplicated()].unique())}")
    bad = [c for c in X.columns if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c]))]
    if bad:
        raise AnalysisError(f"{len(bad)} features are not numeric ({_names(bad)}); encode them as numbers or leave "
                            "them out.")
    X = X.sort_index(kind="mergesort").astype(np.float64)
    values = X.to_numpy()
    infinite = X.columns[np.isinf(values).any(axis=0)]
    if len(infinite):
        raise AnalysisError(f"{len(infinite)} features have infinite values ({_names(infinite)}); fix the extraction "
                            "or exclude them.")
    y = y.reindex(X.index)
    if y.isna().any():
        raise AnalysisError(f"{int(y.isna().sum())} patients have no outcome; exclude them (with a counted reason) "
                            "before the analysis.")
    if not set(pd.unique(y.astype(float))) <= {0.0, 1.0}:
        raise AnalysisError("The outcome must be binary, 0 (negative) or 1 (positive).")
    return X, y.astype(int)


def canonical_table_csv(X, y):
    """The analysed table as canonical CSV text, as :func:`analytics.compute.survival.runner.canonical_csv` writes it:
    a ``patient_id`` column, the features in column order (floats as ``repr``), then ``outcome`` (0/1); rows
    sorted by patient id, ``\\n`` line ends."""
    order = np.argsort(np.asarray(X.index), kind="mergesort")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["patient_id", *map(str, X.columns), "outcome"])
    ids, values, labels = X.index[order], X.to_numpy(dtype=float)[order], np.asarray(y.reindex(X.index))[order]
    for pid, row, label in zip(ids, values.tolist(), labels.tolist(), strict=True):
        writer.writerow([int(pid) if isinstance(pid, int | np.integer) else pid, *map(repr, row), int(label)])
    return out.getvalue()


def input_sha256(X, y):
    """SHA-256 of :func:`canonical_table_csv` (after :func:`prepare_data`): the data hash of a run."""
    X, y = prepare_data(X, y)
    return hashlib.sha256(canonical_table_csv(X, y).encode("utf-8")).hexdigest()


def _json_safe(obj):
    """numpy -> Python; a non-finite float is a bug here (undefined values are None with a warning)."""
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | np.ndarray):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        value = float(obj)
        if not math.isfinite(value):
            raise ValueError("a prediction result value is not finite")
        return value
    return obj


def _selection_frequency(folds):
    counts = Counter(name for fold in folds for name in fold["features"])
    return [{"feature": name, "fraction": count / len(folds)}
            for name, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def _collect(caught):
    """Typed prediction warnings (their text) and a count of solver non-convergence; others are re-issued."""
    messages, convergence = [], 0
    for item in caught:
        if issubclass(item.category, PredictionWarning):
            text = str(item.message)
            if text not in messages:
                messages.append(text)
        elif issubclass(item.category, ConvergenceWarning):
            convergence += 1
        else:
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
    if convergence:
        messages.append(f"The solver reached its iteration limit in {convergence} model fits (ConvergenceWarning); "
                        "the coefficients of those fits are approximate.")
    return messages


def _check_batches(X, harmonise, cv):
    """Refuse a batch column that is missing, incomplete, single-valued or has batches too small for the folds."""
    column = harmonise["column"]
    if column not in X.columns:
        raise AnalysisError(f"harmonise: the table has no batch column {column!r}.")
    batches = X[column]
    if batches.isna().any():
        raise AnalysisError(f"harmonise: {int(batches.isna().sum())} patients have no {harmonise['batch']}; exclude "
                            "them before the analysis.")
    counts = batches.value_counts()
    if len(counts) < 2:
        raise AnalysisError(f"harmonise: every patient has the same {harmonise['batch']}, so there is nothing to "
                            "harmonise; leave harmonise out.")
    smallest = 2 * cv["outer_folds"]
    small = counts[counts < smallest]
    if len(small):
        raise AnalysisError(f"harmonise: {len(small)} batch(es) of {harmonise['batch']} have fewer than {smallest} "
                            f"patients (2 x outer_folds), too few for ComBat to see them in every training fold "
                            f"(sizes: {', '.join(str(int(n)) for n in small.tolist())}); merge small batches or "
                            "restrict the cohort.")


def _harmonise_summary(pipeline, X, harmonise):
    step = pipeline.named_steps["harmonise"]
    counts = X[harmonise["column"]].value_counts().sort_index()
    return {**harmonise, "n_per_batch": {str(int(code)): int(n) for code, n in counts.items()},
            "n_adjusted": len(step.adjusted_), "n_unadjusted": len(step.unadjusted_)}


def run_prediction(spec, X, y, *, progress=None, n_jobs=1):
    """Run one classification analysis: nested cross-validation, permuted-label control and the final model.

    Parameters
    ----------
    spec : Mapping
        The analysis spec; its prediction keys are read (:func:`~.spec.validate_prediction_spec`).
    X : pandas.DataFrame
        Rows = patients (index = patient id), columns = feature names; raw values, NaN for missing.
    y : pandas.Series
        The outcome, 0/1, indexed by patient id.
    progress : callable or None
        ``progress(done, total, message)``, called as each outer fold finishes (the real folds, then the
        permuted-label folds) and once for the final model.
    n_jobs : int
        Parallel fits within each grid search (results do not depend on it).

    Returns
    -------
    (dict, bytes)
        The JSON-safe result and the final model's joblib bytes. Result keys: ``kind`` ("classification"),
        ``model``, ``n``, ``positives``, ``negatives``, ``n_features`` (in the table), ``n_features_used`` (after
        the exclusions), ``excluded_features``; performance of the out-of-fold predictions: ``auc`` (mean over
        repeats), ``auc_lower``/``auc_upper`` (percentile bootstrap), ``auc_by_repeat``, ``auc_ci`` (method),
        ``balanced_accuracy``, ``sensitivity``, ``specificity``, ``threshold``, ``brier``, ``calibration_slope``,
        ``calibration_intercept`` (and ``calibration``: per repeat, clipped), ``calibration_curve``
        [{``predicted``, ``observed``, ``n``}], ``roc`` [{``fpr``, ``tpr``, ``lower``, ``upper``}]; the control:
        ``permuted_auc`` (mean), ``permuted_aucs``, ``leak_tolerance``, ``leak_warning`` (None or text); the final
        model: ``selected_features``, ``final_params``, ``rad_score`` (linear models; else None), ``importance``
        [{``feature``, ``importance``, ...}], ``importance_method``, ``model_sha256``; the design: ``pipeline``,
        ``cv``, ``folds`` (per outer fold: repeat, fold, best_params, inner_auc, n_features),
        ``selection_frequency``; provenance: ``patient_ids``, ``oof_by_repeat`` (aligned with patient_ids),
        ``input_sha256``, ``versions``, ``seed``, ``spec``, ``warnings``.

    Raises
    ------
    SpecError
        An invalid spec.
    AnalysisError
        Data that cannot be analysed: a single outcome class, too few patients in the smaller class for the
        folds, no features left, features without any value, non-numeric or infinite features.
    """
    spec = validate_prediction_spec(spec)
    X, y = prepare_data(X, y)
    harmonise = spec["harmonise"]
    batch_column = harmonise["column"] if harmonise else None
    if harmonise:
        _check_batches(X, harmonise, spec["cv"])
    features = [name for name in X.columns if name != batch_column]
    excluded = [name for name in features if name in set(spec["exclude_features"])]
    used = [name for name in features if name not in set(excluded)]
    if not used:
        raise NoFeaturesLeftError(f"No features are left: all {X.shape[1]} are excluded by exclude_features (the "
                                  "robustness filter); relax the filter or add feature families.")
    empty = [name for name in used if X[name].isna().all()]
    if empty:
        raise AnalysisError(f"{len(empty)} features have no value for any patient ({_names(empty)}); leave them out "
                            "of the feature selection or list them in exclude_features.")
    if (X[used].nunique() <= 1).all():
        raise NoFeaturesLeftError(f"All {len(used)} features have the same value for every patient, so none can "
                                  "predict anything; check the feature extraction.")
    check_class_counts(y, spec)
    y_values = y.to_numpy()

    cv = spec["cv"]
    real_steps = cv["outer_folds"] * cv["repeats"]
    control_steps = spec["permutations"] * cv["outer_folds"] * cv["permutation_repeats"]
    total = real_steps + control_steps + 1

    def step(offset, prefix):
        def report(done, _total, message):
            if progress is not None:
                progress(offset + done, total, f"{prefix}{message}")
        return report

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nested = NestedCV(spec, n_jobs=n_jobs).fit(X, y_values, progress=step(0, "cross-validation: "))
        oof = nested.oof_
        boot = bootstrap_auc(y_values, oof, n_boot=spec["bootstrap"],
                             seed=np.random.SeedSequence([spec["seed"], BOOTSTRAP_STREAM]))
        at_threshold = threshold_metrics(y_values, oof, spec["threshold"])
        calibration = calibration_slope_intercept(y_values, oof)
        curve = calibration_table(y_values, oof)
        roc_mean = np.mean([roc_on_grid(y_values, row) for row in oof], axis=0)
        permuted = permuted_label_control(spec, X, y_values, progress=step(real_steps, ""), n_jobs=n_jobs)
        tolerance, leak_warning = leak_assessment(permuted)
        final = FinalModel(spec, n_jobs=n_jobs).fit(X, y_values)
        if progress is not None:
            progress(total, total, "final model fitted on all patients")
        if spec["model"] in LINEAR_MODELS and not final.rad_score_["terms"]:
            warnings.warn(PredictionWarning("The final model keeps no feature (every coefficient was shrunk to 0): "
                                            "its Rad-score is a constant, the outcome's prevalence."), stacklevel=2)
    messages = _collect(caught)
    model_bytes, model_sha256 = dump_model(final.pipeline_)

    result = {
        "kind": "classification", "model": spec["model"], "n": int(y.size), "positives": int(y_values.sum()),
        "negatives": int(y.size - y_values.sum()), "n_features": len(features), "n_features_used": len(used),
        "excluded_features": excluded,
        "auc": nested.auc_, "auc_lower": boot["auc_lower"], "auc_upper": boot["auc_upper"],
        "auc_by_repeat": nested.auc_by_repeat_,
        "auc_ci": {"method": "percentile bootstrap of the patients", "level": boot["level"],
                   "resamples": boot["n_boot"], "skipped_single_class": boot["skipped"]},
        "balanced_accuracy": at_threshold["balanced_accuracy"], "sensitivity": at_threshold["sensitivity"],
        "specificity": at_threshold["specificity"], "threshold": spec["threshold"],
        "brier": brier_score(y_values, oof),
        "calibration_slope": calibration["slope"], "calibration_intercept": calibration["intercept"],
        "calibration": {"slope_by_repeat": calibration["slope_by_repeat"],
                        "intercept_by_repeat": calibration["intercept_by_repeat"], "clipped": calibration["clipped"],
                        "method": "logistic recalibration on logit(p) (Van Calster et al. 2016, 2019); intercept with "
                                  "the slope fixed at 1 (offset)"},
        "calibration_curve": curve,
        "roc": [{"fpr": f, "tpr": t, "lower": lo, "upper": hi}
                for f, t, lo, hi in zip(ROC_GRID, roc_mean, boot["roc_lower"], boot["roc_upper"], strict=True)],
        "permuted_auc": float(np.mean(permuted)), "permuted_aucs": permuted, "leak_tolerance": tolerance,
        "leak_warning": leak_warning,
        "selected_features": final.selected_features_, "final_params": final.best_params_,
        "rad_score": final.rad_score_, "importance": final.importance_, "importance_method": final.importance_method_,
        "model_sha256": model_sha256,
        "pipeline": describe_pipeline(spec),
        "harmonise": _harmonise_summary(final.pipeline_, X, harmonise) if harmonise else None,
        "cv": {"scheme": "nested cross-validation", "outer": "RepeatedStratifiedKFold", "outer_folds": cv["outer_folds"],
               "repeats": cv["repeats"], "inner": "StratifiedKFold (shuffled)", "inner_folds": cv["inner_folds"],
               "inner_scoring": "roc_auc", "permutations": spec["permutations"],
               "permutation_repeats": cv["permutation_repeats"], "leak_tolerance_rule":
                   f"|mean permuted AUC - 0.5| <= max({LEAK_TOLERANCE}, 3 x standard error)", "seed": spec["seed"]},
        "folds": [{"repeat": f["repeat"], "fold": f["fold"], "best_params": f["best_params"],
                   "inner_auc": f["inner_auc"], "n_features": len(f["features"])} for f in nested.folds_],
        "selection_frequency": _selection_frequency(nested.folds_),
        "patient_ids": list(X.index), "oof_by_repeat": oof,
        "input_sha256": hashlib.sha256(canonical_table_csv(X, y).encode("utf-8")).hexdigest(),
        "versions": _versions(), "seed": spec["seed"], "spec": spec, "warnings": messages,
    }
    return _json_safe(result), model_bytes
