"""Reads of the analytics app.

``response``: the response engine's input built from the database, worklists, plot data.
``delta``: delta-radiomics inputs and the stored delta rows.
``robustness``: the stored feature robustness of a profile version and its robust feature names.
``survival``: the survival analyses' input records (one per patient, relative to a chosen time zero) and runs.
"""
from .delta import delta_features, delta_inputs, delta_long, patient_delta_panel
from .prediction import extraction_profile_names, model_probabilities, prediction_features, prediction_table
from .robustness import feature_robustness_latest, non_robust_features, robust_features, robustness_class_summary
from .response import (
    alert_flags,
    cohort_assessments,
    ici_regimens,
    is_overdue,
    response_document,
    worklist,
)
from .survival import (
    analysis_run_data_changed,
    analysis_runs,
    records_sha256,
    survival_cohort,
    survival_covariate_names,
    survival_records,
    survival_spec_check,
)

__all__ = [
    "delta_features", "delta_inputs", "delta_long", "patient_delta_panel",
    "extraction_profile_names", "model_probabilities", "prediction_features", "prediction_table",
    "feature_robustness_latest", "non_robust_features", "robust_features", "robustness_class_summary",
    "alert_flags", "cohort_assessments", "ici_regimens", "is_overdue", "response_document", "worklist",
    "analysis_run_data_changed", "analysis_runs", "records_sha256", "survival_cohort", "survival_covariate_names",
    "survival_records", "survival_spec_check",
]
