"""Writes of the analytics app.

``response``: (re)computing response assessments from the current lesion data.
``delta``: refreshing a patient's stored delta-radiomics.
``robustness``: computing the feature robustness (ICC across mask perturbations) of a profile version.
``survival``: creating, running and re-running stored survival analyses.
"""
from .alerts import alert_acknowledge, alerts_sync, irae_alerts_sync
from .delta import delta_refresh, delta_refresh_patients, delta_request, stored_pairs
from .response import response_recompute, response_recompute_patients, response_request, response_request_patients
from .robustness import feature_robustness_execute, feature_robustness_now, feature_robustness_request
from .survival import analysis_run_create, analysis_run_execute, analysis_run_now, analysis_run_rerun, model_score

__all__ = [
    "alert_acknowledge", "alerts_sync", "irae_alerts_sync",
    "delta_refresh", "delta_refresh_patients", "delta_request", "stored_pairs",
    "response_recompute", "response_recompute_patients", "response_request", "response_request_patients",
    "feature_robustness_execute", "feature_robustness_now", "feature_robustness_request",
    "analysis_run_create", "analysis_run_execute", "analysis_run_now", "analysis_run_rerun", "model_score",
]
