"""Writes of the analytics app.

``response``: (re)computing response assessments from the current lesion data.
``survival``: creating, running and re-running stored survival analyses.
"""
from .response import response_recompute, response_recompute_patients, response_request
from .survival import analysis_run_create, analysis_run_execute, analysis_run_now, analysis_run_rerun

__all__ = [
    "response_recompute", "response_recompute_patients", "response_request",
    "analysis_run_create", "analysis_run_execute", "analysis_run_now", "analysis_run_rerun",
]
