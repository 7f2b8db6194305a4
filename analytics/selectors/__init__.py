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
    cohort_swimmer_lanes,
    cohort_waterfall_bars,
    ici_regimens,
    WORKLIST_SECTIONS,
    is_overdue,
    patient_history,
    patient_timeline,
    response_document,
    response_inputs,
    worklist,
    worklist_alerts,
    worklist_counts,
    worklist_section,
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
    "alert_flags", "cohort_assessments", "cohort_swimmer_lanes", "cohort_waterfall_bars", "ici_regimens", "is_overdue", "patient_history", "patient_timeline", "response_document", "response_inputs", "worklist",
    "WORKLIST_SECTIONS", "worklist_alerts", "worklist_counts", "worklist_section",
    "analysis_run_data_changed", "analysis_runs", "records_sha256", "survival_cohort", "survival_covariate_names",
    "survival_records", "survival_spec_check",
]
