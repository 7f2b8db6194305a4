"""Prediction models with honest validation (no Django): a binary target from radiomic and clinical features.

Entry points:

* :func:`validate_prediction_spec` - spec mapping -> the normalised prediction keys, or :class:`SpecError`;
* :func:`run_prediction` - spec, X (patients x features), y (0/1) -> ``(result, model_bytes)``, or
  :class:`SpecError` / :class:`AnalysisError`;
* :func:`rad_score` - a stored Rad-score formula and one patient's raw features -> (logit, probability);
* :func:`load_model` / :func:`score_patients` - the stored model bytes -> probabilities for new patients;
* :func:`roc_plot_svg`, :func:`calibration_plot_svg`, :func:`importance_plot_svg` - result -> SVG text.

Where the rules live: the pipeline and its grids in :mod:`.pipeline` (everything data-driven fitted inside the
folds), nested cross-validation, the permuted-label control and its leak rule, the minimum class size and the
seeds in :mod:`.validation`, the metrics and their references in :mod:`.metrics`, the final model, Rad-score and
importance in :mod:`.final`, the result keys in :func:`run_prediction`.
"""
from .model import (LINEAR_MODELS, MODELS, SELECTION_METHODS, AnalysisError, BootstrapWarning, CalibrationWarning,
                    NoFeaturesLeftError, PredictionWarning, SpecError)
from .spec import PREDICTION_KEYS, validate_prediction_spec

#: scikit-learn, scipy, pandas and matplotlib load on first use of these: the spec check and the errors (the
#: analyses' forms, a web process's start-up) must not load them.
_LAZY = {
    **dict.fromkeys(["FinalModel", "dump_model", "feature_importance", "load_model", "rad_score", "rad_score_formula",
                     "score_patients"], ".final"),
    **dict.fromkeys(["auc", "bootstrap_auc", "brier_score", "calibration_slope_intercept", "calibration_table",
                     "logistic_recalibration", "roc_on_grid", "threshold_metrics"], ".metrics"),
    **dict.fromkeys(["GRIDS", "BatchHarmoniser", "CorrelationFilter", "L1Selector", "NamedFeatureDropper",
                     "UnivariateSelector", "build_pipeline", "build_search", "describe_pipeline", "param_grid",
                     "selected_features"], ".pipeline"),
    **dict.fromkeys(["calibration_plot_svg", "importance_plot_svg", "roc_plot_svg"], ".plots"),
    **dict.fromkeys(["canonical_table_csv", "input_sha256", "prepare_data", "run_prediction"], ".run"),
    **dict.fromkeys(["LEAK_TOLERANCE", "NestedCV", "check_class_counts", "leak_assessment", "minimum_minority",
                     "permuted_label_control"], ".validation"),
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "validate_prediction_spec", "PREDICTION_KEYS", "run_prediction", "input_sha256", "canonical_table_csv",
    "prepare_data", "SpecError", "AnalysisError", "NoFeaturesLeftError", "PredictionWarning", "CalibrationWarning",
    "BootstrapWarning", "MODELS", "LINEAR_MODELS", "SELECTION_METHODS",
    "BatchHarmoniser", "NamedFeatureDropper", "CorrelationFilter", "UnivariateSelector", "L1Selector", "GRIDS", "build_pipeline",
    "build_search", "param_grid", "describe_pipeline", "selected_features",
    "NestedCV", "permuted_label_control", "leak_assessment", "minimum_minority", "check_class_counts",
    "LEAK_TOLERANCE",
    "auc", "roc_on_grid", "bootstrap_auc", "threshold_metrics", "brier_score", "logistic_recalibration",
    "calibration_slope_intercept", "calibration_table",
    "FinalModel", "rad_score_formula", "rad_score", "feature_importance", "dump_model", "load_model",
    "score_patients",
    "roc_plot_svg", "calibration_plot_svg", "importance_plot_svg",
]
