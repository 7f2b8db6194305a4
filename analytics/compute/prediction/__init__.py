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
from .final import FinalModel, dump_model, feature_importance, load_model, rad_score, rad_score_formula, score_patients
from .metrics import (auc, bootstrap_auc, brier_score, calibration_slope_intercept, calibration_table,
                      logistic_recalibration, roc_on_grid, threshold_metrics)
from .model import (LINEAR_MODELS, MODELS, SELECTION_METHODS, AnalysisError, BootstrapWarning, CalibrationWarning,
                    NoFeaturesLeftError, PredictionWarning, SpecError)
from .pipeline import (GRIDS, BatchHarmoniser, CorrelationFilter, L1Selector, NamedFeatureDropper, UnivariateSelector,
                       build_pipeline, build_search, describe_pipeline, param_grid, selected_features)
from .plots import calibration_plot_svg, importance_plot_svg, roc_plot_svg
from .run import canonical_table_csv, input_sha256, prepare_data, run_prediction
from .spec import PREDICTION_KEYS, validate_prediction_spec
from .validation import (LEAK_TOLERANCE, NestedCV, check_class_counts, leak_assessment, minimum_minority,
                         permuted_label_control)

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
