from celery import shared_task

from radimmuno.jobs import run_job

from .models import AnalysisRun, DeltaRefresh, ResponseAssessment
from .services import analysis_run_execute, delta_refresh, response_recompute


@shared_task(name="analytics.recompute_response", acks_late=True)
def recompute_response(assessment_id):
    """Recompute one response assessment (fetch by id, idempotent service)."""
    return run_job(ResponseAssessment, assessment_id, response_recompute)


@shared_task(name="analytics.run_analysis", acks_late=True)
def run_analysis(run_id):
    """Compute one stored survival analysis (fetch by id; the service recomputes from the current data)."""
    return run_job(AnalysisRun, run_id, analysis_run_execute)


@shared_task(name="analytics.refresh_deltas", acks_late=True)
def refresh_deltas(refresh_id):
    """Recompute one patient's stored delta-radiomics (fetch by id; idempotent)."""
    return run_job(DeltaRefresh, refresh_id, delta_refresh)
