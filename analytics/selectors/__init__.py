"""Reads of the analytics app.

``response``: the response engine's input built from the database, worklists, plot data.
``survival``: the survival analyses' input records (one per patient, relative to a chosen time zero) and runs.
"""
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
    "alert_flags", "cohort_assessments", "ici_regimens", "is_overdue", "response_document", "worklist",
    "analysis_run_data_changed", "analysis_runs", "records_sha256", "survival_cohort", "survival_covariate_names",
    "survival_records", "survival_spec_check",
]
